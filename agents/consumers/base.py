"""What both sockets share: frame dispatch, error frames, ordered message delivery
(docs/REALTIME.md, "Delivery")."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from agents import realtime
from agents.errors import ChatError
from agents.frames import Frame, FrameError, parse_frame
from agents.models import AgentProfile, Conversation, Sender
from agents.payloads import message_payload
from agents.services.conversations import (
    conversation_message_send,
    conversation_messages_since,
    conversation_read,
    conversation_typing,
)

logger = logging.getLogger(__name__)

CLOSE_UNAUTHORISED = 4401
CLOSE_FORBIDDEN = 4403
# "Reconnect and sync": this socket may have missed live frames (it fell too far behind,
# the channel layer lost Redis, or joining a group failed). Nothing is lost: the client
# reconnects, gets hello and syncs from its last seq.
CLOSE_RESYNC = 4008


def scope_origin(scope: Mapping[str, Any]) -> str:
    """The address of the page that opened the socket (its ``Origin``, which the
    console's origin check has accepted), else the scheme and ``Host`` it reached."""
    headers = {k.decode("latin1").lower(): v.decode("latin1") for k, v in scope.get("headers", [])}
    origin = headers.get("origin", "")
    if origin.startswith(("https://", "http://")):
        return origin
    scheme = "https" if scope.get("scheme") in {"wss", "https"} else "http"
    return f"{scheme}://{headers.get('host', 'localhost')}"


def scope_language(scope: Mapping[str, Any]) -> str:
    """The language a socket's client asked for, as ``LocaleMiddleware`` would choose it
    for a page: the language cookie, else the first supported ``Accept-Language`` entry
    (by quality), else ``LANGUAGE_CODE``."""
    cookie = (scope.get("cookies") or {}).get(settings.LANGUAGE_COOKIE_NAME, "")
    headers = {k.decode("latin1").lower(): v.decode("latin1") for k, v in scope.get("headers", [])}
    ranked = []
    for position, part in enumerate(headers.get("accept-language", "")[:500].split(",")):
        tag, _sep, params = part.strip().partition(";")
        try:
            quality = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, position, tag))
    for candidate in [cookie, *(tag for _q, _p, tag in sorted(ranked))]:
        if not candidate:
            continue
        try:
            return translation.get_supported_language_variant(candidate)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


class LayerUnavailable(Exception):
    """The channel layer failed while this socket joined or left a group."""


class RateLimit:
    """A token bucket: ``burst`` actions, refilled over ``period`` seconds."""

    def __init__(self, burst: int, period: float = 10.0) -> None:
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.rate = burst / period
        self.stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """Parses frames, calls ``frame_<type>`` handlers, answers errors with an error
    frame (the socket stays usable), and delivers each conversation's messages exactly
    once and in order (``sent_seq`` holds this socket's position per conversation it
    follows: the last seq sent, or the ``last_seq`` the client was told).

    When the channel layer fails under a handler (after its service call has committed),
    the socket is closed with 4008 rather than answered with an internal error: the
    client reconnects and finds the committed state in ``hello`` and ``sync``."""

    frame_schema: dict[str, dict[str, str]] = {}
    sender: Sender  # who this socket speaks for
    # The language of this socket's error frames: the shopper's (widget) or the agent's
    # (console); set in ``on_connect``.
    language: str = settings.LANGUAGE_CODE

    async def _conversation(self, conversation_id: int) -> Conversation:
        """The conversation ``conversation_id`` if this socket may act on it (else NotFound)."""
        raise NotImplementedError

    def acting_agent(self) -> AgentProfile | None:
        return None

    # --- frames both sides send ---------------------------------------------------------

    def sender_site(self) -> tuple[int, str | None]:
        """This socket's identity for the message send's authorisation: the site, and the
        visitor id for a shopper's socket (None for an agent's)."""
        raise NotImplementedError

    async def frame_message_send(self, frame: Frame) -> None:
        # No lookup per message: the send checks, in its one statement, that this socket
        # (its identity, loaded when it connected) may post to the chat now (ADR 0017).
        site_id, visitor_id = self.sender_site()
        posted = await conversation_message_send(
            conversation_id=frame["conversation_id"],
            sender=self.sender,
            agent=self.acting_agent(),
            site_id=site_id,
            visitor_id=visitor_id,
            client_message_id=frame["client_message_id"],
            text=frame["text"],
            now=timezone.now(),
        )
        conversation_id = posted.message.conversation_id
        payload = message_payload(posted.message, posted.author_name)
        if not posted.created:
            # A retry of a message already stored: the original, unless this socket has
            # already sent it; in order, after any message this socket has not sent yet.
            await self.deliver(conversation_id, payload, fill_reason="")
        elif self.sent_seq.get(conversation_id) == payload["seq"] - 1:
            # The sender's own echo, without waiting for the channel layer (which may be
            # down); the copy that comes through the group is then dropped as sent.
            await self.deliver(conversation_id, payload, fill_reason="")

    async def frame_typing(self, frame: Frame) -> None:
        conversation = await self._conversation(frame["conversation_id"])
        await database_sync_to_async(conversation_typing)(
            conversation=conversation, sender=self.sender
        )

    async def frame_read(self, frame: Frame) -> None:
        conversation = await self._conversation(frame["conversation_id"])
        await database_sync_to_async(conversation_read)(
            conversation=conversation, reader=self.sender, seq=frame["seq"]
        )

    async def typing_sent(self, event: dict[str, Any]) -> None:
        if event["sender"] != self.sender:
            await self.send_json(
                {
                    "type": "typing",
                    "conversation_id": event["conversation_id"],
                    "sender": event["sender"],
                }
            )

    async def connect(self) -> None:
        self.sent_seq: dict[int, int] = {}
        self.conversation_state: dict[int, dict[str, Any]] = {}
        self.joined: set[str] = set()
        self.message_limit = RateLimit(settings.CARTASSIST_SOCKET_MESSAGE_BURST)
        self.frame_limit = RateLimit(settings.CARTASSIST_SOCKET_MESSAGE_BURST * 5)
        await self.accept()
        await self.on_connect()

    async def on_connect(self) -> None:
        raise NotImplementedError

    async def refuse(self, code: int) -> None:
        await self.close(code=code)

    async def join(self, group: str) -> None:
        if group not in self.joined:
            try:
                await self.channel_layer.group_add(group, self.channel_name)
            except Exception as exc:
                raise LayerUnavailable(f"joining {group}") from exc
            self.joined.add(group)

    async def leave(self, group: str) -> None:
        if group in self.joined:
            self.joined.discard(group)
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception as exc:
                raise LayerUnavailable(f"leaving {group}") from exc

    async def follow(self, conversation_id: int, told_seq: int) -> None:
        """Join the conversation's group. Live messages continue from this socket's
        position, or from ``told_seq`` (the ``last_seq`` of the conversation payload it
        is being sent) when that is further: the client syncs what it has not seen."""
        group = realtime.conversation_group(conversation_id)
        if group not in self.joined:
            self.sent_seq[conversation_id] = max(self.sent_seq.get(conversation_id, 0), told_seq)
        await self.join(group)

    async def unfollow(self, conversation_id: int) -> None:
        """Leave the conversation's group (messages already queued for this socket are
        still delivered in order)."""
        await self.leave(realtime.conversation_group(conversation_id))

    async def disconnect(self, code: int) -> None:
        for group in list(getattr(self, "joined", ())):
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:
                logger.warning("leaving %s on disconnect failed", group, exc_info=True)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its ``aclose_old_connections`` before every
        handler: a hop to the database thread for each frame and each channel-layer
        event (three per chat message), when most handlers touch no database. Every
        handler that does goes through ``database_sync_to_async``, which closes stale
        connections on the database thread itself, before and after (ADR 0017)."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        try:
            await handler(message)
        except LayerUnavailable:
            logger.warning("channel layer unavailable: socket closed to resync", exc_info=True)
            await self.close(code=CLOSE_RESYNC)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        with translation.override(self.language):
            await self._receive(text_data)

    async def _receive(self, text_data: str | None) -> None:
        try:
            if not self.frame_limit.allow():
                raise ChatError("rate_limited", _("Too many frames; slow down."))
            frame = parse_frame(
                text_data, self.frame_schema, max_text=settings.CARTASSIST_MAX_MESSAGE_LENGTH
            )
            if frame.type == "message.send" and not self.message_limit.allow():
                raise ChatError(
                    "rate_limited",
                    _("Too many messages; wait a moment."),
                    ref=frame["client_message_id"],
                )
            handler = getattr(self, "frame_" + frame.type.replace(".", "_"))
            await handler(frame)
        except LayerUnavailable:
            raise  # dispatch() closes the socket: the client resyncs
        except FrameError as error:
            await self.send_json(error.as_frame())
        except ChatError as error:
            await self.send_json(error.as_frame())
        except Exception:
            logger.exception("chat frame failed")
            await self.send_json(
                {
                    "type": "error",
                    "code": "internal",
                    "message": str(_("Something went wrong; try again.")),
                }
            )

    async def frame_ping(self, frame: Frame) -> None:
        await self.send_json({"type": "pong"})

    # --- ordered delivery --------------------------------------------------------------

    async def send_messages_since(self, conversation: Conversation, after_seq: int) -> None:
        """Send what a client that saw ``after_seq`` has missed, then ``synced``; live
        delivery continues from there."""
        previous = self.sent_seq.get(conversation.pk)
        # Joined before reading: a message committed after the read below arrives live.
        await self.join(realtime.conversation_group(conversation.pk))
        messages = await database_sync_to_async(conversation_messages_since)(
            conversation_id=conversation.pk, after_seq=after_seq
        )
        # A client that claims to have seen more than exists (stale or corrupt state)
        # is told the real last seq; remembering its claim would drop the next messages.
        last = min(after_seq, max(conversation.last_seq, previous or 0))
        for message in messages:
            await self.send_json(
                {"type": "message", "conversation_id": conversation.pk, "message": message}
            )
            last = message["seq"]
        self.sent_seq[conversation.pk] = last
        await self.send_json(
            {"type": "synced", "conversation_id": conversation.pk, "last_seq": last}
        )

    async def deliver(
        self, conversation_id: int, message: dict[str, Any], *, fill_reason: str
    ) -> None:
        """Send ``message`` if it is the next one for this socket; drop it if this socket
        has sent it; after a gap, send everything missing from the database, in order.
        A socket that does not follow the conversation gets it as it is (its own
        message, answered to it alone)."""
        seq = message["seq"]
        sent = self.sent_seq.get(conversation_id)
        if sent is not None and seq <= sent:
            return
        if sent is not None and seq > sent + 1:
            if fill_reason:
                logger.warning(
                    "conversation %s: %s (seq %s after %s): filled from the database",
                    conversation_id,
                    fill_reason,
                    seq,
                    sent,
                )
            await self._fill(conversation_id, after_seq=sent)
            return
        await self.send_json(
            {"type": "message", "conversation_id": conversation_id, "message": message}
        )
        if sent is not None:
            self.sent_seq[conversation_id] = seq

    async def _fill(self, conversation_id: int, *, after_seq: int) -> None:
        messages = await database_sync_to_async(conversation_messages_since)(
            conversation_id=conversation_id, after_seq=after_seq
        )
        for message in messages:
            await self.send_json(
                {"type": "message", "conversation_id": conversation_id, "message": message}
            )
            self.sent_seq[conversation_id] = message["seq"]

    async def message_created(self, event: dict[str, Any]) -> None:
        conversation_id = event["conversation_id"]
        if conversation_id not in self.sent_seq:
            return  # not (or no longer) followed by this socket
        await self.deliver(
            conversation_id, event["message"], fill_reason="live message out of order"
        )

    async def send_conversation(self, conversation: dict[str, Any]) -> None:
        """Send a ``conversation`` frame unless this exact state was already sent (one
        update reaches a socket through several groups)."""
        if self.conversation_state.get(conversation["id"]) == conversation:
            return
        self.conversation_state[conversation["id"]] = conversation
        await self.send_json({"type": "conversation", "conversation": conversation})

    async def read_updated(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {
                "type": "read",
                "conversation_id": event["conversation_id"],
                "reader": event["reader"],
                "seq": event["seq"],
            }
        )

    async def layer_overflow(self, event: dict[str, Any]) -> None:
        """This socket fell too far behind: close it; the client reconnects and syncs."""
        await self.close(code=CLOSE_RESYNC)

    async def layer_resync(self, event: dict[str, Any]) -> None:
        """The layer lost its Redis connection: frames may be missing; the client
        reconnects and syncs (agents/layers.py)."""
        await self.close(code=CLOSE_RESYNC)

    async def queue_changed(self, event: dict[str, Any]) -> None:
        """Only the console follows the queue."""
