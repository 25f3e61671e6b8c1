"""The WebSocket wire protocol: parse incoming frames (pure) and build outgoing ones.

docs/REALTIME.md is the contract. ``parse_frame`` raises ``FrameError``; the consumer
answers with an ``error`` frame and keeps the socket open.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from agents.errors import ChatError

MAX_FRAME_BYTES = 16 * 1024
CLIENT_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")


class FrameError(ChatError):
    """An incoming frame that does not follow the protocol."""


@dataclass(frozen=True)
class Frame:
    type: str
    fields: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)


# Frame type → {field: kind}. Kinds: "id" (positive int), "seq" (int ≥ 0),
# "client_id", "text", "str" (short string).
WIDGET_FRAMES: dict[str, dict[str, str]] = {
    "sync": {"conversation_id": "id", "after_seq": "seq"},
    "invitation.accept": {"invitation_id": "id"},
    "invitation.dismiss": {"invitation_id": "id"},
    "chat.start": {"cart_id": "str?"},
    "message.send": {"conversation_id": "id", "client_message_id": "client_id", "text": "text"},
    "typing": {"conversation_id": "id"},
    "read": {"conversation_id": "id", "seq": "seq"},
    "conversation.close": {"conversation_id": "id"},
    "offer.accept": {"offer_id": "id"},
    "offer.decline": {"offer_id": "id"},
    "ping": {},
}

CONSOLE_FRAMES: dict[str, dict[str, str]] = {
    "presence.heartbeat": {},
    "status.set": {"status": "str"},
    "queue.claim": {"conversation_id": "id"},
    "reach_out": {"cart_id": "id"},
    "sync": {"conversation_id": "id", "after_seq": "seq"},
    "message.send": {"conversation_id": "id", "client_message_id": "client_id", "text": "text"},
    "typing": {"conversation_id": "id"},
    "read": {"conversation_id": "id", "seq": "seq"},
    "transfer": {"conversation_id": "id", "agent_id": "id"},
    "conversation.close": {"conversation_id": "id", "disposition": "str"},
    "follow_up.classify": {"conversation_id": "id", "reason": "str"},
    "offer.create": {"conversation_id": "id", "kind": "str", "amount": "amount?"},
    "offer.approve": {"offer_id": "id"},
    "offer.deny": {"offer_id": "id"},
    "ping": {},
}


def parse_frame(text: str | None, schema: dict[str, dict[str, str]], *, max_text: int) -> Frame:
    """Validate one incoming text frame against ``schema``; return a ``Frame``."""
    if text is None:
        raise FrameError("invalid_frame", "Send JSON text frames, not binary.")
    if len(text) > MAX_FRAME_BYTES:
        raise FrameError("invalid_frame", f"Frames are limited to {MAX_FRAME_BYTES} bytes.")
    try:
        content = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FrameError("invalid_frame", "The frame is not valid JSON.") from exc
    if not isinstance(content, dict):
        raise FrameError("invalid_frame", "A frame is a JSON object with a 'type'.")
    frame_type = content.get("type")
    if not isinstance(frame_type, str) or frame_type not in schema:
        shown = str(frame_type)[:40]
        raise FrameError("invalid_frame", f"Unknown frame type {shown!r}.", field="type")
    client_message_id = content.get("client_message_id")
    ref = (client_message_id if isinstance(client_message_id, str) else str(frame_type))[:64]
    fields: dict[str, Any] = {}
    for name, kind in schema[frame_type].items():
        fields[name] = _field(content.get(name), name, kind, max_text=max_text, ref=ref)
    return Frame(type=frame_type, fields=fields)


def _field(value: Any, name: str, kind: str, *, max_text: int, ref: str) -> Any:
    if kind.endswith("?"):
        if value is None or value == "":
            return None
        kind = kind[:-1]
    if value is None:
        raise FrameError("invalid_frame", f"'{name}' is required.", field=name, ref=ref)
    if kind == "amount":
        # Decimal strings ("12.50") are exact; the service checks the currency's places.
        if isinstance(value, bool) or not isinstance(value, str | int) or len(str(value)) > 32:
            raise FrameError(
                "invalid_frame",
                f"'{name}' must be a decimal string such as \"12.50\".",
                field=name,
                ref=ref,
            )
        return str(value)
    if kind in {"id", "seq"}:
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < (1 if kind == "id" else 0)
        ):
            raise FrameError(
                "invalid_frame", f"'{name}' must be a non-negative integer.", field=name, ref=ref
            )
        if value > 2**53:
            raise FrameError("invalid_frame", f"'{name}' is out of range.", field=name, ref=ref)
        return value
    if not isinstance(value, str):
        raise FrameError("invalid_frame", f"'{name}' must be a string.", field=name, ref=ref)
    if kind == "client_id":
        if not CLIENT_ID.match(value):
            raise FrameError(
                "invalid_frame",
                f"'{name}' must be 1–64 letters, digits or . _ : -",
                field=name,
                ref=ref,
            )
        return value
    if kind == "text":
        text = value.strip()
        if not text:
            raise FrameError("invalid_frame", "The message is empty.", field=name, ref=ref)
        if len(text) > max_text:
            raise FrameError(
                "too_long", f"Messages are limited to {max_text} characters.", field=name, ref=ref
            )
        return text
    if len(value) > 64:
        raise FrameError("invalid_frame", f"'{name}' is too long.", field=name, ref=ref)
    return value
