"""The console's services: what an agent's console is sent when it connects, the
agent's status changes (docs/REALTIME.md), and the remedies panel. The console's
consumer and views call one of these and only send what they return."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext_lazy as _

from agents.errors import ChatError
from agents.models import AgentProfile, AgentStatus
from agents.payloads import agent_payload
from agents.selectors import (
    agent_load,
    console_conversations,
    console_queue,
)
from agents.services.assignment import queue_drain
from agents.services.presence import agent_heartbeat, agent_status_set, effective_status
from policies.services.offers import offer_payload
from policies.services.panel import panel_facts
from policies.services.remedies import panel_remedies

CHOSEN_STATUSES = {AgentStatus.ONLINE, AgentStatus.AWAY}


def console_hello(*, agent: AgentProfile, now: datetime) -> dict[str, Any]:
    """The ``hello`` frame for a console that has just connected.

    1. The agent is present: an offline agent comes online, any other status is kept
       and counts as a heartbeat. ``agent`` is updated in place to match its row.
    2. The queue is drained: this agent (or another) may take waiting chats now.
    3. The frame: the agent with their load, the queue, and the active chats this
       console follows (the agent's own; every one of the site for a supervisor),
       follow-ups carrying their ``follow_up``.
    """
    if agent.status == AgentStatus.OFFLINE:
        agent_status_set(agent_id=agent.pk, status=AgentStatus.ONLINE, now=now)
        agent.status = AgentStatus.ONLINE
    else:
        agent_heartbeat(agent_id=agent.pk, now=now)
    agent.last_heartbeat_at = now
    queue_drain(site_id=agent.site_id, now=now)
    return {
        "type": "hello",
        "agent": agent_payload(
            agent,
            effective_status=effective_status(agent, now),
            load=agent_load(agent_id=agent.pk),
        ),
        "queue": console_queue(site_id=agent.site_id, now=now),
        "conversations": console_conversations(agent=agent),
    }


def console_status_set(*, agent: AgentProfile, status: str, now: datetime) -> None:
    """The agent chooses "online" or "away" (anything else is refused with nothing
    changed). ``agent`` is updated in place; coming online drains the queue."""
    if status not in CHOSEN_STATUSES:
        raise ChatError("invalid_frame", _("status must be 'online' or 'away'."), field="status")
    agent_status_set(agent_id=agent.pk, status=status, now=now)
    agent.status = status
    if status == AgentStatus.ONLINE:
        queue_drain(site_id=agent.site_id, now=now)


def console_remedies(*, agent: AgentProfile, conversation_id: int, now: datetime) -> dict[str, Any]:
    """The remedies panel of a chat the agent may see: what they may offer now and why
    (not), and the chat's offers. Raises ``NotFound`` for a chat the agent may not see
    or one without a cart.

    One statement on PostgreSQL whatever the number of policies (``panel_facts``: the
    chat, its cart, the shopper, the offers and the site's policy-set token, ADR 0026), a
    second for the live spend only when a policy that applies has a budget; on SQLite
    the ORM's three queries and that fourth (``tests/cartassist/test_console_remedies.py``
    pins them)."""
    facts = panel_facts(agent=agent, conversation_id=conversation_id, now=now)
    panel = panel_remedies(facts=facts, agent=agent, now=now)
    panel["offers"] = [offer_payload(offer) for offer in facts.offers]
    return panel
