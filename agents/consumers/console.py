"""The agent console socket: presence, the queue, chats (docs/REALTIME.md)."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from agents import realtime
from agents.consumers.base import CLOSE_FORBIDDEN, ChatConsumer, scope_language, scope_origin
from agents.errors import ChatError
from agents.frames import CONSOLE_FRAMES, Frame
from agents.models import (
    AgentProfile,
    CloseReason,
    Conversation,
    ConversationStatus,
    Disposition,
    Sender,
)
from agents.payloads import conversation_payload, follow_up_payload, with_follow_up
from agents.permissions import console_agent
from agents.selectors import console_queue, conversation_follow_ups
from agents.services import assignment, conversations, invitations, presence
from cartassist.flows.console import console_hello, console_status_set
from cartassist.flows.shopper_email import conversation_email_send
from cartassist.outcomes.services.followups import follow_up_classify
from policies.selectors import pending_approvals
from policies.services import offers


@database_sync_to_async
def _follow_up(conversation_id: int) -> dict[str, Any] | None:
    return conversation_follow_ups(conversation_ids=[conversation_id]).get(conversation_id)


class ConsoleConsumer(ChatConsumer):
    frame_schema = CONSOLE_FRAMES
    sender = Sender.AGENT

    def acting_agent(self) -> AgentProfile | None:
        return self.agent

    def sender_site(self) -> tuple[int, str | None]:
        return self.agent.site_id, None

    async def on_connect(self) -> None:
        agent = await database_sync_to_async(console_agent)(self.scope.get("user"))
        if agent is None:
            await self.refuse(CLOSE_FORBIDDEN)
            return
        self.agent = agent
        self.language = scope_language(self.scope)
        # conversation id → its follow-up payload (or None): console-only, added to every
        # ``conversation`` frame this socket sends (the widget never sees it).
        self.follow_ups: dict[int, dict[str, Any] | None] = {}
        await self.join(realtime.agent_group(agent.pk))
        await self.join(realtime.console_site_group(agent.site_id))
        if agent.is_supervisor:
            await self.join(realtime.console_supervisors_group(agent.site_id))
        hello = await database_sync_to_async(console_hello)(agent=agent, now=timezone.now())
        for conversation in hello["conversations"]:
            self.follow_ups[conversation["id"]] = conversation.get("follow_up")
            await self.follow(conversation["id"], conversation["last_seq"])
        await self.send_json(hello)

    async def send_conversation(self, conversation: dict[str, Any], *, fresh: bool = False) -> None:
        """A ``conversation`` frame to the console carries ``follow_up`` when the chat is a
        follow-up: looked up once per conversation (again with ``fresh``), and only for
        chats the shopper started, the only ones that can be follow-ups."""
        conversation_id = conversation["id"]
        if fresh or conversation_id not in self.follow_ups:
            self.follow_ups[conversation_id] = (
                await _follow_up(conversation_id) if conversation["origin"] == "shopper" else None
            )
        await super().send_conversation(
            with_follow_up(conversation, self.follow_ups[conversation_id])
        )

    async def _conversation(self, conversation_id: int) -> Conversation:
        return await database_sync_to_async(conversations.conversation_for_agent)(
            agent=self.agent, conversation_id=conversation_id
        )

    async def _send_queue(self) -> None:
        queue = await database_sync_to_async(console_queue)(
            site_id=self.agent.site_id, now=timezone.now()
        )
        await self.send_json({"type": "queue", "queue": queue})

    # --- frames from the agent ---------------------------------------------------------

    async def frame_presence_heartbeat(self, frame: Frame) -> None:
        await database_sync_to_async(presence.agent_heartbeat)(
            agent_id=self.agent.pk, now=timezone.now()
        )
        await self.send_json({"type": "pong"})

    async def frame_status_set(self, frame: Frame) -> None:
        await database_sync_to_async(console_status_set)(
            agent=self.agent, status=frame["status"], now=timezone.now()
        )
        await self.send_json({"type": "status", "status": frame["status"]})

    async def frame_queue_claim(self, frame: Frame) -> None:
        conversation = await database_sync_to_async(assignment.conversation_claim)(
            agent=self.agent, conversation_id=frame["conversation_id"], now=timezone.now()
        )
        # Committed: a layer failure from here on closes the socket with 4008; the
        # agent finds the chat in the next hello.
        payload = conversation_payload(conversation)
        await self.follow(conversation.pk, payload["last_seq"])
        await self.send_conversation(payload)

    async def frame_reach_out(self, frame: Frame) -> None:
        invitation = await database_sync_to_async(invitations.invitation_reach_out)(
            agent=self.agent, cart_id=frame["cart_id"], now=timezone.now()
        )
        await self.send_json(
            {"type": "reach_out.sent", "cart_id": frame["cart_id"], "invitation_id": invitation.pk}
        )

    async def frame_sync(self, frame: Frame) -> None:
        conversation = await self._conversation(frame["conversation_id"])
        await self.send_conversation(conversation_payload(conversation), fresh=True)
        await self.send_messages_since(conversation, frame["after_seq"])

    async def frame_transfer(self, frame: Frame) -> None:
        await database_sync_to_async(assignment.conversation_transfer)(
            agent=self.agent,
            conversation_id=frame["conversation_id"],
            to_agent_id=frame["agent_id"],
            now=timezone.now(),
        )

    async def frame_conversation_close(self, frame: Frame) -> None:
        if frame["disposition"] not in Disposition.values:
            raise ChatError(
                "invalid_frame",
                format_lazy(
                    _("disposition must be one of {choices}."),
                    choices=", ".join(Disposition.values),
                ),
                field="disposition",
            )
        conversation = await self._conversation(frame["conversation_id"])
        await database_sync_to_async(assignment.conversation_close)(
            conversation_id=conversation.pk,
            reason=CloseReason.AGENT,
            disposition=frame["disposition"],
            now=timezone.now(),
        )

    async def frame_follow_up_classify(self, frame: Frame) -> None:
        contact = await database_sync_to_async(follow_up_classify)(
            conversation_id=frame["conversation_id"],
            agent=self.agent,
            reason=frame["reason"],
            now=timezone.now(),
        )
        follow_up = follow_up_payload(contact)
        self.follow_ups[frame["conversation_id"]] = follow_up
        await self.send_json(
            {
                "type": "follow_up.classified",
                "conversation_id": frame["conversation_id"],
                "follow_up": follow_up,
            }
        )

    async def frame_conversation_email(self, frame: Frame) -> None:
        """Email the shopper who left this chat (docs/REALTIME.md, "Email to a shopper
        who left"); refusals come back as an ``error`` frame with their code."""
        email = await database_sync_to_async(conversation_email_send)(
            agent=self.agent,
            conversation_id=frame["conversation_id"],
            link_base=settings.CARTASSIST_PUBLIC_URL or scope_origin(self.scope),
            now=timezone.now(),
        )
        await self.send_json(
            {
                "type": "conversation.emailed",
                "conversation_id": frame["conversation_id"],
                "email_id": email.pk,
            }
        )

    async def frame_offer_create(self, frame: Frame) -> None:
        offer = await database_sync_to_async(offers.offer_authorize)(
            agent=self.agent,
            conversation_id=frame["conversation_id"],
            kind=frame["kind"],
            amount=frame.get("amount"),
            now=timezone.now(),
        )
        await self.send_json(
            {"type": "offer", "offer": await database_sync_to_async(offers.offer_payload)(offer)}
        )

    async def frame_offer_approve(self, frame: Frame) -> None:
        await database_sync_to_async(offers.offer_review)(
            supervisor=self.agent, offer_id=frame["offer_id"], approve=True, now=timezone.now()
        )

    async def frame_offer_deny(self, frame: Frame) -> None:
        await database_sync_to_async(offers.offer_review)(
            supervisor=self.agent, offer_id=frame["offer_id"], approve=False, now=timezone.now()
        )

    # --- events from the channel layer -------------------------------------------------

    async def offer_updated(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "offer", "offer": event["offer"]})

    async def approvals_changed(self, event: dict[str, Any]) -> None:
        if self.agent.is_supervisor:
            approvals = await database_sync_to_async(pending_approvals)(site_id=self.agent.site_id)
            await self.send_json({"type": "approvals", "approvals": approvals})

    async def grant_issued(self, event: dict[str, Any]) -> None:
        """Agents see the accepted offer; the token itself goes to the shopper only."""

    def _followed(self, conversation_id: int) -> bool:
        return realtime.conversation_group(conversation_id) in self.joined

    async def grant_updated(self, event: dict[str, Any]) -> None:
        """A grant issued or redeemed (no token), to the consoles following its chat."""
        if self._followed(event["grant"]["conversation_id"]):
            await self.send_json({"type": "grant", "grant": event["grant"]})

    async def cart_updated(self, event: dict[str, Any]) -> None:
        """A cart changed by ingested events (an order, say), to the consoles following a
        chat about it: the frame names only the chats this console follows."""
        followed = [c for c in event["conversation_ids"] if self._followed(c)]
        if followed:
            await self.send_json(
                {"type": "cart", "conversation_ids": followed, "cart": event["cart"]}
            )

    async def queue_changed(self, event: dict[str, Any]) -> None:
        await self._send_queue()

    async def conversation_updated(self, event: dict[str, Any]) -> None:
        conversation = event["conversation"]
        mine = conversation["agent_id"] == self.agent.pk or self.agent.is_supervisor
        group = realtime.conversation_group(conversation["id"])
        followed = group in self.joined
        if mine and conversation["status"] == ConversationStatus.ACTIVE:
            await self.follow(conversation["id"], conversation["last_seq"])
        elif not mine and followed:
            await self.unfollow(conversation["id"])  # transferred away or re-queued
        # A console that followed the chat is told where it went, even after leaving.
        if mine or followed or conversation["agent_id"] is None:
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

    async def invitation_created(self, event: dict[str, Any]) -> None:
        """Agents learn about invitations through the queue."""
