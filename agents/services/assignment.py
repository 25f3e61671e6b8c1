"""Routing chats to agents: least-loaded first, the queue by priority, claims, transfers.

The queue is ordered by urgency, then cart value, then age — not first-come-first-served
(the brief: triage complex, valuable cases to people fast).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from agents import realtime
from agents.errors import ChatError, NotFound
from agents.models import AgentProfile, CloseReason, Conversation, ConversationStatus
from agents.payloads import conversation_payload
from agents.services.conversations import (
    conversation_for_agent,
    conversation_publish,
    system_message_post,
)
from agents.services.presence import AgentLoad, is_online, least_loaded_available_agent
from cartassist.core import ports
from cartassist.core.batches import BatchResult, each_in_own_transaction
from cartassist.core.locks import for_update

QUEUE_ORDER = ["-urgency", "-cart_value", "created_at", "pk"]


def _locked_agent_with_load(agent_id: int) -> AgentLoad:
    """Lock the agent's row (so two routings cannot both fill their last seat) and count
    the chats they hold now."""
    agent = for_update(AgentProfile.objects.all()).get(pk=agent_id)
    load = Conversation.objects.filter(agent=agent, status=ConversationStatus.ACTIVE).count()
    return AgentLoad(agent=agent, load=load)


def _assign(conversation: Conversation, agent: AgentProfile, now: datetime) -> None:
    conversation.agent = agent
    conversation.status = ConversationStatus.ACTIVE
    conversation.assigned_at = now
    conversation.save(update_fields=["agent", "status", "assigned_at"])
    conversation_publish(conversation)


def conversation_route(
    *, conversation: Conversation, now: datetime, preferred_agent_id: int | None = None
) -> Conversation:
    """Give a queued conversation to the preferred agent if they can take it, else to the
    least-loaded online agent with a free seat; otherwise it stays queued.
    Runs inside the caller's transaction."""
    candidates = []
    if preferred_agent_id:
        candidates.append(preferred_agent_id)
    fallback = least_loaded_available_agent(site_id=conversation.site_id, now=now)
    if fallback is not None:
        candidates.append(fallback.pk)
    for agent_id in candidates:
        locked = _locked_agent_with_load(agent_id)
        if (
            locked.agent.site_id == conversation.site_id
            and is_online(locked.agent, now)
            and locked.has_free_seat
        ):
            _assign(conversation, locked.agent, now)
            return conversation
    conversation_publish(conversation)
    return conversation


def queue_drain(*, site_id: int, now: datetime) -> int:
    """Assign queued conversations, highest priority first, while agents have free seats.
    Returns how many were assigned."""
    assigned = 0
    with transaction.atomic():
        queued = list(
            for_update(
                Conversation.objects.filter(site_id=site_id, status=ConversationStatus.QUEUED)
            ).order_by(*QUEUE_ORDER)
        )
        for conversation in queued:
            agent = least_loaded_available_agent(site_id=site_id, now=now)
            if agent is None:
                break
            locked = _locked_agent_with_load(agent.pk)
            if not locked.has_free_seat:
                break
            _assign(conversation, locked.agent, now)
            assigned += 1
    return assigned


def conversation_claim(*, agent: AgentProfile, conversation_id: int, now: datetime) -> Conversation:
    """An agent takes a queued conversation of their site (compare-and-swap on status).
    Locks the conversation before the agent, as routing does (cartassist.core.locks)."""
    with transaction.atomic():
        list(for_update(Conversation.objects.filter(pk=conversation_id, site_id=agent.site_id)))
        locked = _locked_agent_with_load(agent.pk)
        if not locked.has_free_seat and not locked.agent.is_supervisor:
            raise ChatError("invalid_state", _("You are at capacity: close a chat first."))
        updated = Conversation.objects.filter(
            pk=conversation_id, site_id=agent.site_id, status=ConversationStatus.QUEUED
        ).update(agent=locked.agent, status=ConversationStatus.ACTIVE, assigned_at=now)
        if not updated:
            if not Conversation.objects.filter(pk=conversation_id, site_id=agent.site_id).exists():
                raise NotFound("conversation")
            raise ChatError("invalid_state", _("Someone else has taken this conversation."))
        conversation = Conversation.objects.select_related("agent").get(pk=conversation_id)
        conversation_publish(conversation)
    return conversation


def conversation_transfer(
    *, agent: AgentProfile, conversation_id: int, to_agent_id: int, now: datetime
) -> Conversation:
    """Hand an active conversation to another online agent of the site with a free seat."""
    with transaction.atomic():
        conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
        conversation = for_update(Conversation.objects.select_related("agent")).get(
            pk=conversation.pk
        )
        if conversation.status != ConversationStatus.ACTIVE:
            raise ChatError("invalid_state", _("Only an active conversation can be transferred."))
        if to_agent_id == conversation.agent_id:
            raise ChatError("invalid_state", _("That agent already has this conversation."))
        target = AgentProfile.objects.filter(pk=to_agent_id, site_id=agent.site_id).first()
        if target is None:
            raise NotFound("agent")
        target_load = _locked_agent_with_load(target.pk)
        target = target_load.agent
        if not is_online(target, now):
            raise ChatError(
                "invalid_state", format_lazy(_("{agent} is not online."), agent=target.display_name)
            )
        if not target_load.has_free_seat:
            raise ChatError(
                "invalid_state",
                format_lazy(_("{agent} has no free seat."), agent=target.display_name),
            )
        previous_agent_id = conversation.agent_id
        _assign(conversation, target, now)
        if previous_agent_id:
            realtime.publish_on_commit(
                realtime.agent_group(previous_agent_id),
                realtime.CONVERSATION_UPDATED,
                {"conversation": conversation_payload(conversation)},
            )
        system_message_post(
            conversation=conversation,
            text=f"{target.display_name} has taken over this conversation.",
            key=f"transfer-{conversation.pk}-{now.timestamp()}",
            now=now,
        )
    return conversation


def conversations_requeue_abandoned(*, now: datetime, grace: timedelta) -> BatchResult:
    """Re-queue the active chats of agents silent for longer than ``grace``: ``done``
    counts the chats re-queued, ``failed`` the agents whose chats could not be."""
    silent = AgentProfile.objects.filter(
        Q(last_heartbeat_at__lt=now - grace) | Q(last_heartbeat_at__isnull=True)
    ).annotate(
        active=Count("conversations", filter=Q(conversations__status=ConversationStatus.ACTIVE))
    )
    requeued = 0

    def requeue(agent: AgentProfile) -> None:
        nonlocal requeued
        conversations = list(
            for_update(Conversation.objects.filter(agent=agent, status=ConversationStatus.ACTIVE))
        )
        for conversation in conversations:
            conversation.status = ConversationStatus.QUEUED
            conversation.agent = None
            conversation.save(update_fields=["status", "agent"])
            conversation_publish(conversation)
            system_message_post(
                conversation=conversation,
                text="Your agent was disconnected. The next available agent will answer you here.",
                key=f"requeue-{conversation.pk}-{now.timestamp()}",
                now=now,
            )
        realtime.publish_on_commit(realtime.agent_group(agent.pk), realtime.QUEUE_CHANGED, {})
        requeued += len(conversations)

    # One agent at a time: a failure leaves the other agents' chats to be re-queued.
    agents = each_in_own_transaction(silent.filter(active__gt=0), requeue, what="re-queueing")
    return BatchResult(done=requeued, failed=agents.failed)


def conversation_close(
    *,
    conversation_id: int,
    reason: CloseReason,
    now: datetime,
    disposition: str = "",
) -> Conversation:
    """Close a conversation (idempotent), free the agent's seat and route the queue."""
    with transaction.atomic():
        conversation = for_update(Conversation.objects.select_related("agent")).get(
            pk=conversation_id
        )
        if conversation.status == ConversationStatus.CLOSED:
            return conversation
        conversation.status = ConversationStatus.CLOSED
        conversation.closed_at = now
        conversation.close_reason = reason
        conversation.disposition = disposition
        conversation.save(update_fields=["status", "closed_at", "close_reason", "disposition"])
        if conversation.cart_id:
            ports.outcomes_refresh_request.get()([conversation.cart_id])
        payload = {"conversation_id": conversation.pk, "reason": reason.value}
        realtime.publish_on_commit(
            realtime.conversation_group(conversation.pk), realtime.CONVERSATION_CLOSED, payload
        )
        realtime.publish_on_commit(
            realtime.visitor_group(conversation.site_id, conversation.visitor_id),
            realtime.CONVERSATION_CLOSED,
            payload,
        )
        conversation_publish(conversation)
        queue_drain(site_id=conversation.site_id, now=now)
    return conversation
