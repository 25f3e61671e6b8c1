"""Agent presence from console heartbeats, and who can take a chat now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from agents.models import AgentProfile, AgentStatus, CloseReason, Conversation, ConversationStatus
from cartassist.carts.models import Site
from cartassist.carts.services.visitors import visitor_open_sockets


def is_online(agent: AgentProfile, now: datetime) -> bool:
    """Online = chose "online" and sent a heartbeat within the heartbeat timeout."""
    return (
        agent.status == AgentStatus.ONLINE
        and agent.last_heartbeat_at is not None
        and now - agent.last_heartbeat_at <= settings.CARTASSIST_AGENT_HEARTBEAT_TIMEOUT
    )


def effective_status(agent: AgentProfile, now: datetime) -> str:
    if agent.last_heartbeat_at is None or (
        now - agent.last_heartbeat_at > settings.CARTASSIST_AGENT_HEARTBEAT_TIMEOUT
    ):
        return AgentStatus.OFFLINE
    return agent.status


@dataclass(frozen=True)
class AgentLoad:
    """An agent and the chats they hold now (active conversations)."""

    agent: AgentProfile
    load: int

    @property
    def free_seats(self) -> int:
        return self.agent.capacity - self.load

    @property
    def has_free_seat(self) -> bool:
        return self.free_seats > 0


def agents_with_load(*, site_id: int) -> list[AgentLoad]:
    """The site's agents, in id order, each with its load."""
    rows = (
        AgentProfile.objects.filter(site_id=site_id)
        .annotate(
            active_n=Count(
                "conversations", filter=Q(conversations__status=ConversationStatus.ACTIVE)
            )
        )
        .order_by("pk")
    )
    return [AgentLoad(agent=row, load=row.active_n) for row in rows]


def least_loaded_available_agent(*, site_id: int, now: datetime) -> AgentProfile | None:
    """The online agent with free capacity and the lowest load (ties: most free seats)."""
    candidates = [
        a for a in agents_with_load(site_id=site_id) if is_online(a.agent, now) and a.has_free_seat
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda a: (a.load, -a.free_seats, a.agent.pk)).agent


def agent_heartbeat(*, agent_id: int, now: datetime) -> None:
    AgentProfile.objects.filter(pk=agent_id).update(last_heartbeat_at=now)


def agent_status_set(*, agent_id: int, status: str, now: datetime) -> None:
    AgentProfile.objects.filter(pk=agent_id).update(status=status, last_heartbeat_at=now)


def agent_with_free_capacity(site: Site, now: datetime | None = None) -> bool:
    """The default CARTASSIST_AGENT_AVAILABILITY check: the site's outreach switch is on
    and an online agent of ``site`` (a console heartbeat recent at ``now``, the sweep's
    moment) has a free seat."""
    if not site.agents_available:
        return False
    moment = now or timezone.now()
    return least_loaded_available_agent(site_id=site.pk, now=moment) is not None


def shopper_has_left(*, conversation: Conversation, now: datetime) -> bool:
    """Has the shopper of ``conversation`` left (docs/REALTIME.md, "Email to a shopper who
    left")?

    1. A chat closed because the shopper timed out: left. Closed by anyone else (the
       shopper ended it, or the agent): not "left", the chat is over.
    2. An open chat: left when no widget socket of the visitor is open
       (``Visitor.open_sockets``). A count a crashed process never decremented cannot
       keep a shopper "present" for ever: with no sign of the shopper for
       ``CARTASSIST_VISITOR_TIMEOUT`` the shopper counts as left, as housekeeping does.
    """
    if conversation.status == ConversationStatus.CLOSED:
        return conversation.close_reason == CloseReason.VISITOR_TIMEOUT
    if now - conversation.visitor_last_seen_at > settings.CARTASSIST_VISITOR_TIMEOUT:
        return True
    sockets = visitor_open_sockets(site_id=conversation.site_id, visitor_id=conversation.visitor_id)
    return sockets == 0
