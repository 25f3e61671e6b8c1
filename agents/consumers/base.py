"""What both sockets share: frame dispatch, error frames, ordered message delivery."""

from __future__ import annotations

import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from agents import realtime
from agents.errors import ChatError
from agents.frames import Frame, FrameError, parse_frame
from agents.models import AgentProfile, Conversation, Sender
from agents.payloads import message_payload
from agents.services.conversations import (
    conversation_message_post,
    conversation_messages_since,
    conversation_read,
    conversation_typing,
)

logger = logging.getLogger(__name__)

CLOSE_UNAUTHORISED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4008


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
    once and in order (``sent_seq`` tracks the last seq sent per conversation)."""

    frame_schema: dict[str, dict[str, str]] = {}
    sender: Sender  # who this socket speaks for

    async def _conversation(self, conversation_id: int) -> Conversation:
        """The conversation ``conversation_id`` if this socket may act on it (else NotFound)."""
        raise NotImplementedError

    def acting_agent(self) -> AgentProfile | None:
        return None

    # --- frames both sides send ---------------------------------------------------------

    async def frame_message_send(self, frame: Frame) -> None:
        conversation = await self._conversation(frame["conversation_id"])
        posted = await database_sync_to_async(conversation_message_post)(
            conversation_id=conversation.pk,
            sender=self.sender,
            agent=self.acting_agent(),
            client_message_id=frame["client_message_id"],
            text=frame["text"],
            now=timezone.now(),
        )
        if not posted.created:
            # A retry of a message already stored: answer with the original.
            await self.send_json(
                {
                    "type": "message",
                    "conversation_id": conversation.pk,
                    "message": message_payload(posted.message, posted.author_name),
                }
            )

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
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.add(group)

    async def leave(self, group: str) -> None:
        if group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
            self.joined.discard(group)

    async def disconnect(self, code: int) -> None:
        for group in list(getattr(self, "joined", ())):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        try:
            if not self.frame_limit.allow():
                raise ChatError("rate_limited", "Too many frames; slow down.")
            frame = parse_frame(
                text_data, self.frame_schema, max_text=settings.CARTASSIST_MAX_MESSAGE_LENGTH
            )
            if frame.type == "message.send" and not self.message_limit.allow():
                raise ChatError(
                    "rate_limited",
                    "Too many messages; wait a moment.",
                    ref=frame["client_message_id"],
                )
            handler = getattr(self, "frame_" + frame.type.replace(".", "_"))
            await handler(frame)
        except FrameError as error:
            await self.send_json(error.as_frame())
        except ChatError as error:
            await self.send_json(error.as_frame())
        except Exception:
            logger.exception("chat frame failed")
            await self.send_json(
                {"type": "error", "code": "internal", "message": "Something went wrong; try again."}
            )

    async def frame_ping(self, frame: Frame) -> None:
        await self.send_json({"type": "pong"})

    # --- ordered delivery --------------------------------------------------------------

    async def send_messages_since(self, conversation: Conversation, after_seq: int) -> None:
        """Send what a client that saw ``after_seq`` has missed, then ``synced``."""
        messages = await database_sync_to_async(conversation_messages_since)(
            conversation=conversation, after_seq=after_seq
        )
        # A client that claims to have seen more than exists (stale or corrupt state)
        # is told the real last seq; remembering its claim would drop the next messages.
        last = min(after_seq, conversation.last_seq)
        for message in messages:
            await self.send_json(
                {"type": "message", "conversation_id": conversation.pk, "message": message}
            )
            last = message["seq"]
        self.sent_seq[conversation.pk] = last
        await self.join(realtime.conversation_group(conversation.pk))
        await self.send_json(
            {
                "type": "synced",
                "conversation_id": conversation.pk,
                "last_seq": self.sent_seq[conversation.pk],
            }
        )

    async def message_created(self, event: dict[str, Any]) -> None:
        conversation_id = event["conversation_id"]
        seq = event["message"]["seq"]
        sent = self.sent_seq.get(conversation_id)
        if sent is not None and seq <= sent:
            return  # already delivered (by a sync, or a duplicate publish)
        if sent is not None and seq > sent + 1:
            # A message published out of order: fill the gap from the database.
            conversation = await database_sync_to_async(Conversation.objects.get)(
                pk=conversation_id
            )
            messages = await database_sync_to_async(conversation_messages_since)(
                conversation=conversation, after_seq=sent
            )
            for message in messages:
                await self.send_json(
                    {"type": "message", "conversation_id": conversation_id, "message": message}
                )
                self.sent_seq[conversation_id] = message["seq"]
            return
        await self.send_json(
            {"type": "message", "conversation_id": conversation_id, "message": event["message"]}
        )
        self.sent_seq[conversation_id] = seq

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
        await self.close(code=CLOSE_TOO_SLOW)

    async def queue_changed(self, event: dict[str, Any]) -> None:
        """Only the console follows the queue."""
