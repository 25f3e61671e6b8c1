"""The console's services: the hello a console gets when it connects, and status changes
(the consumer only sends what these return)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from agents.errors import ChatError
from agents.models import AgentProfile, AgentStatus, Conversation, ConversationStatus
from cartassist.flows.console import console_hello, console_status_set
from tests.fixtures.agents import make_agent, make_conversation

pytestmark = pytest.mark.django_db


def test_hello_brings_an_offline_agent_online_and_gives_them_the_waiting_chat(site):
    # given: an agent who was offline, and a chat waiting in the queue
    now = timezone.now()
    agent = make_agent(site, name="Ada", online=False, capacity=2)
    waiting = make_conversation(site, now=now)

    # when
    hello = console_hello(agent=agent, now=now)

    # then
    assert AgentProfile.objects.filter(pk=agent.pk).values_list(
        "status", "last_heartbeat_at"
    ).get() == (AgentStatus.ONLINE, now)
    assert (agent.status, agent.last_heartbeat_at) == (AgentStatus.ONLINE, now)
    assert hello["type"] == "hello"
    assert hello["agent"] == {
        "id": agent.pk,
        "display_name": "Ada",
        "status": "online",
        "capacity": 2,
        "load": 1,
        "is_supervisor": False,
    }
    assert [(c["id"], c["status"], c["agent_id"]) for c in hello["conversations"]] == [
        (waiting.pk, "active", agent.pk)
    ]
    assert hello["queue"] == []


def test_hello_keeps_an_away_agent_away_and_leaves_the_chat_queued(site):
    # given
    now = timezone.now()
    agent = make_agent(site, online=True)
    AgentProfile.objects.filter(pk=agent.pk).update(status=AgentStatus.AWAY)
    agent.refresh_from_db()
    waiting = make_conversation(site, now=now)

    # when
    hello = console_hello(agent=agent, now=now)

    # then: the hello counts as a heartbeat, nothing more
    assert AgentProfile.objects.filter(pk=agent.pk).values_list(
        "status", "last_heartbeat_at"
    ).get() == (AgentStatus.AWAY, now)
    assert hello["agent"]["status"] == "away"
    assert hello["conversations"] == []
    assert [(item["kind"], item["conversation_id"]) for item in hello["queue"]] == [
        ("chat", waiting.pk)
    ]


def test_hello_of_a_supervisor_lists_every_active_chat_of_the_site(site):
    # given
    now = timezone.now()
    ada = make_agent(site, name="Ada")
    supervisor = make_agent(site, name="Sam", supervisor=True)
    adas = make_conversation(site, agent=ada, now=now)

    # when
    hello = console_hello(agent=supervisor, now=now)

    # then
    assert [c["id"] for c in hello["conversations"]] == [adas.pk]
    assert hello["agent"]["load"] == 0


def test_status_set_online_gives_the_agent_the_waiting_chat(site):
    # given
    now = timezone.now()
    agent = make_agent(site)
    AgentProfile.objects.filter(pk=agent.pk).update(status=AgentStatus.AWAY)
    agent.refresh_from_db()
    waiting = make_conversation(site, now=now)

    # when
    console_status_set(agent=agent, status=AgentStatus.ONLINE, now=now)

    # then
    assert agent.status == AgentStatus.ONLINE
    assert Conversation.objects.filter(pk=waiting.pk).values_list("status", "agent_id").get() == (
        ConversationStatus.ACTIVE,
        agent.pk,
    )


def test_status_set_away_leaves_the_queue_alone(site):
    # given
    now = timezone.now()
    agent = make_agent(site)
    waiting = make_conversation(site, now=now)

    # when
    console_status_set(agent=agent, status=AgentStatus.AWAY, now=now)

    # then
    assert AgentProfile.objects.get(pk=agent.pk).status == AgentStatus.AWAY
    assert Conversation.objects.get(pk=waiting.pk).status == ConversationStatus.QUEUED


@pytest.mark.parametrize("status", [AgentStatus.OFFLINE, "busy"])
def test_status_set_refuses_a_status_an_agent_cannot_choose(site, status):
    # given
    agent = make_agent(site)
    before = AgentProfile.objects.filter(pk=agent.pk).values().get()

    # when
    with pytest.raises(ChatError) as refused:
        console_status_set(agent=agent, status=status, now=timezone.now())

    # then: refused, nothing changed
    assert (refused.value.code, refused.value.message, refused.value.field) == (
        "invalid_frame",
        "status must be 'online' or 'away'.",
        "status",
    )
    assert AgentProfile.objects.filter(pk=agent.pk).values().get() == before
    assert agent.status == AgentStatus.ONLINE
