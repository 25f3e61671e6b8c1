"""The WebSocket wire protocol: parse incoming frames (pure) and build outgoing ones.

docs/REALTIME.md is the contract. ``parse_frame`` raises ``FrameError``; the consumer
answers with an ``error`` frame and keeps the socket open.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

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
# "client_id", "text", "str" (short string), "amount" (decimal string); parsed by
# FIELD_PARSERS below.
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
    "conversation.email": {"conversation_id": "id"},
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


class _Invalid(Exception):
    """A field value refused by its kind's parser; ``_field`` names the field."""

    def __init__(self, message: str | Promise, code: str = "invalid_frame") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


FieldParser = Callable[[Any, str, int], Any]
"""(value, field name, max_text) -> the parsed value; raises ``_Invalid``."""


def _amount(value: Any, name: str, max_text: int) -> str:
    # Decimal strings ("12.50") are exact; the service checks the currency's places.
    if isinstance(value, bool) or not isinstance(value, str | int) or len(str(value)) > 32:
        raise _Invalid(f"'{name}' must be a decimal string such as \"12.50\".")
    return str(value)


def _integer(minimum: int) -> FieldParser:
    def parse(value: Any, name: str, max_text: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _Invalid(f"'{name}' must be a non-negative integer.")
        if value > 2**53:
            raise _Invalid(f"'{name}' is out of range.")
        return value

    return parse


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"'{name}' must be a string.")
    return value


def _client_id(value: Any, name: str, max_text: int) -> str:
    if not CLIENT_ID.match(_string(value, name)):
        raise _Invalid(f"'{name}' must be 1–64 letters, digits or . _ : -")
    return value


def _text(value: Any, name: str, max_text: int) -> str:
    text = _string(value, name).strip()
    if not text:
        raise _Invalid(_("The message is empty."))
    if len(text) > max_text:
        raise _Invalid(
            format_lazy(_("Messages are limited to {count} characters."), count=max_text),
            code="too_long",
        )
    return text


def _short_string(value: Any, name: str, max_text: int) -> str:
    if len(_string(value, name)) > 64:
        raise _Invalid(f"'{name}' is too long.")
    return value


# Field kind → its parser (a trailing "?" on a kind makes the field optional).
FIELD_PARSERS: dict[str, FieldParser] = {
    "id": _integer(1),
    "seq": _integer(0),
    "amount": _amount,
    "client_id": _client_id,
    "text": _text,
    "str": _short_string,
}


def _field(value: Any, name: str, kind: str, *, max_text: int, ref: str) -> Any:
    """Parse one field of kind ``kind``: ``FrameError`` names the field and the frame."""
    if kind.endswith("?"):
        if value is None or value == "":
            return None
        kind = kind[:-1]
    if value is None:
        raise FrameError("invalid_frame", f"'{name}' is required.", field=name, ref=ref)
    try:
        return FIELD_PARSERS[kind](value, name, max_text)
    except _Invalid as invalid:
        raise FrameError(invalid.code, invalid.message, field=name, ref=ref) from None
