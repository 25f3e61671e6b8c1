"""The shopper's socket: thin — each frame is one service call (docs/REALTIME.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agents import realtime
from agents.consumers.base import CLOSE_FORBIDDEN, CLOSE_UNAUTHORISED, ChatConsumer
from agents.errors import ChatError
from agents.frames import WIDGET_FRAMES, Frame
from agents.models import CloseReason, ConversationStatus, Sender
from agents.payloads import conversation_payload, invitation_payload
from agents.services import assignment, conversations, invitations, visitor_chats
from agents.tokens import visitor_token_verify
from cartassist.carts.models import Site
from cartassist.carts.services.visitors import visitor_language, visitor_sockets_count
from cartassist.core.ratelimits import rate_limit_hit
from policies.services import offers
from policies.services.grants import grant_payload, grant_token

# chat.start: this many per shopper (site and visitor id) within this many seconds, counted
# across every socket and process (docs/REALTIME.md, docs/adr/0012). Starting again while
# a chat is open returns it; the limit stops a script that closes and starts chats in a
# loop, also from fresh sockets.
CHAT_START_BURST = 3
CHAT_START_PERIOD = 60.0


def _headers(scope: Mapping[str, Any]) -> dict[str, str]:
    return {k.decode("latin1").lower(): v.decode("latin1") for k, v in scope.get("headers", [])}


@database_sync_to_async
def _widget_hello(site_id: int, visitor_id: str) -> dict[str, Any]:
    now = timezone.now()
    pending = invitations.invitations_pending(site_id=site_id, visitor_id=visitor_id, now=now)
    invitations.invitations_mark_delivered(invitation_ids=[i.pk for i in pending], now=now)
    open_conversations = conversations.open_conversations_for_visitor(
        site_id=site_id, visitor_id=visitor_id
    )
    conversations.visitor_seen(site_id=site_id, visitor_id=visitor_id, now=now)
    open_offers = offers.offers_open_for_visitor(site_id=site_id, visitor_id=visitor_id)
    return {
        "type": "hello",
        "visitor_id": visitor_id,
        "invitations": [invitation_payload(i) for i in pending],
        "conversations": [conversation_payload(c) for c in open_conversations],
        "offers": [offers.offer_payload(o) for o in open_offers],
        "grants": [
            grant_payload(o.grant, grant_token(o.grant))
            for o in open_offers
            if hasattr(o, "grant") and o.grant.redeemed_at is None and o.grant.expires_at > now
        ],
    }


class WidgetConsumer(ChatConsumer):
    frame_schema = WIDGET_FRAMES
    sender = Sender.VISITOR

    async def on_connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        identity = visitor_token_verify((query.get("token") or [""])[0])
        if identity is None:
            await self.refuse(CLOSE_UNAUTHORISED)
            return
        site = await database_sync_to_async(Site.objects.filter(pk=identity.site_id).first)()
        if site is None or not site.origin_is_allowed(_headers(self.scope).get("origin")):
            await self.refuse(CLOSE_FORBIDDEN)
            return
        self.site_id = identity.site_id
        self.visitor_id = identity.visitor_id
        self.language = await database_sync_to_async(visitor_language)(
            site=site, visitor_id=self.visitor_id
        )
        await self.join(realtime.visitor_group(self.site_id, self.visitor_id))
        await database_sync_to_async(visitor_sockets_count)(
            site_id=self.site_id, visitor_id=self.visitor_id, change=1
        )
        self.counted = True
        hello = await _widget_hello(self.site_id, self.visitor_id)
        for conversation in hello["conversations"]:
            await self.follow(conversation["id"], conversation["last_seq"])
        await self.send_json(hello)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "visitor_id"):
            await database_sync_to_async(conversations.visitor_seen)(
                site_id=self.site_id, visitor_id=self.visitor_id, now=timezone.now()
            )
        if getattr(self, "counted", False):
            self.counted = False
            await database_sync_to_async(visitor_sockets_count)(
                site_id=self.site_id, visitor_id=self.visitor_id, change=-1
            )
        await super().disconnect(code)

    def sender_site(self) -> tuple[int, str | None]:
        return self.site_id, self.visitor_id

    async def _conversation(self, conversation_id: int) -> Any:
        return await database_sync_to_async(conversations.conversation_for_visitor)(
            site_id=self.site_id, visitor_id=self.visitor_id, conversation_id=conversation_id
        )

    # --- frames from the shopper -------------------------------------------------------

    async def frame_ping(self, frame: Frame) -> None:
        await database_sync_to_async(conversations.visitor_seen)(
            site_id=self.site_id, visitor_id=self.visitor_id, now=timezone.now()
        )
        await self.send_json({"type": "pong"})

    async def frame_sync(self, frame: Frame) -> None:
        conversation = await self._conversation(frame["conversation_id"])
        await self.send_messages_since(conversation, frame["after_seq"])

    async def frame_invitation_accept(self, frame: Frame) -> None:
        conversation = await database_sync_to_async(invitations.invitation_accept)(
            site_id=self.site_id,
            visitor_id=self.visitor_id,
            invitation_id=frame["invitation_id"],
            now=timezone.now(),
        )
        # Committed: if the layer fails from here on, the socket closes with 4008 and the
        # shopper finds the conversation in the next hello (never an internal error).
        conversation = await self._conversation(conversation.pk)
        payload = conversation_payload(conversation)
        await self.follow(conversation.pk, payload["last_seq"])
        await self.send_conversation(payload)

    async def frame_chat_start(self, frame: Frame) -> None:
        """The shopper opens a chat from the launcher: answered like ``invitation.accept``."""
        decision = await sync_to_async(rate_limit_hit, thread_sensitive=False)(
            key=f"chat_start:{self.site_id}:{self.visitor_id}",
            limit=CHAT_START_BURST,
            period=CHAT_START_PERIOD,
        )
        if not decision.allowed:
            raise ChatError(
                "rate_limited", _("Too many chats started; wait a moment."), ref="chat.start"
            )
        conversation = await database_sync_to_async(visitor_chats.conversation_start_by_visitor)(
            site_id=self.site_id,
            visitor_id=self.visitor_id,
            cart_external_id=frame["cart_id"],
            now=timezone.now(),
        )
        conversation = await self._conversation(conversation.pk)
        payload = conversation_payload(conversation)
        await self.follow(conversation.pk, payload["last_seq"])
        # Always answered, even when this socket already has that state (a repeated start).
        self.conversation_state.pop(conversation.pk, None)
        await self.send_conversation(payload)

    async def frame_invitation_dismiss(self, frame: Frame) -> None:
        await database_sync_to_async(invitations.invitation_dismiss)(
            site_id=self.site_id,
            visitor_id=self.visitor_id,
            invitation_id=frame["invitation_id"],
            now=timezone.now(),
        )
        await self.send_json(
            {"type": "invitation.dismissed", "invitation_id": frame["invitation_id"]}
        )

    async def frame_conversation_close(self, frame: Frame) -> None:
        conversation = await self._conversation(frame["conversation_id"])
        await database_sync_to_async(assignment.conversation_close)(
            conversation_id=conversation.pk,
            reason=CloseReason.VISITOR,
            now=timezone.now(),
        )

    async def frame_offer_accept(self, frame: Frame) -> None:
        await database_sync_to_async(offers.offer_accept)(
            site_id=self.site_id,
            visitor_id=self.visitor_id,
            offer_id=frame["offer_id"],
            now=timezone.now(),
        )

    async def frame_offer_decline(self, frame: Frame) -> None:
        await database_sync_to_async(offers.offer_decline)(
            site_id=self.site_id,
            visitor_id=self.visitor_id,
            offer_id=frame["offer_id"],
            now=timezone.now(),
        )

    # --- events from the channel layer -------------------------------------------------

    async def offer_updated(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "offer", "offer": event["offer"]})

    async def grant_issued(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "grant", "grant": event["grant"]})

    async def approvals_changed(self, event: dict[str, Any]) -> None:
        """Supervisors only."""

    async def invitation_created(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "invitation", "invitation": event["invitation"]})
        await database_sync_to_async(invitations.invitations_mark_delivered)(
            invitation_ids=[event["invitation"]["id"]], now=timezone.now()
        )

    async def conversation_updated(self, event: dict[str, Any]) -> None:
        conversation = event["conversation"]
        if conversation["status"] != ConversationStatus.CLOSED:
            await self.follow(conversation["id"], conversation["last_seq"])
        await self.send_conversation(conversation)

    async def conversation_closed(self, event: dict[str, Any]) -> None:
        group = realtime.conversation_group(event["conversation_id"])
        if group in self.joined:
            await self.send_json(
                {
                    "type": "conversation.closed",
                    "conversation_id": event["conversation_id"],
                    "reason": event["reason"],
                }
            )
            await self.unfollow(event["conversation_id"])
