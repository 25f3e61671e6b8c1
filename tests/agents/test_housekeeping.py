"""Time-driven chat changes: an agent's grace period, shoppers who left, expiries."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from agents.models import CloseReason, Conversation, ConversationStatus, Message, Sender
from cartassist.flows.housekeeping import chat_housekeeping
from tests.fixtures.agents import FRAME_TIMEOUT, make_agent, make_conversation

REQUEUED_TEXT = "Your agent was disconnected. The next available agent will answer you here."


@pytest.fixture(autouse=True)
def _timeouts(settings):
    settings.CARTASSIST_AGENT_HEARTBEAT_TIMEOUT = timedelta(seconds=45)
    settings.CARTASSIST_AGENT_GRACE = timedelta(seconds=90)
    settings.CARTASSIST_VISITOR_TIMEOUT = timedelta(minutes=5)


def counts(result) -> dict[str, int]:
    return {k: v for k, v in asdict(result).items() if v}


def owner(conversation) -> tuple[str, str | None]:
    conversation.refresh_from_db()
    return conversation.status, conversation.agent.display_name if conversation.agent else None


def messages(conversation) -> list[tuple[int, str, str]]:
    return list(
        Message.objects.filter(conversation=conversation).values_list("seq", "sender", "text")
    )


# --- an agent who disconnects mid-chat -------------------------------------------------


@pytest.mark.django_db
def test_within_the_grace_period_the_chat_stays_with_the_silent_agent(site):
    # given: Ada's last heartbeat was 60 s ago: offline, but within the 90 s grace
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now - timedelta(seconds=60))
    make_agent(site, name="Bea", now=now)
    conversation = make_conversation(site, agent=ada, now=now)

    # when
    result = chat_housekeeping(now=now)

    # then
    assert counts(result) == {}
    assert owner(conversation) == (ConversationStatus.ACTIVE, "Ada")
    assert messages(conversation) == []


@pytest.mark.django_db
def test_past_the_grace_period_the_chat_is_requeued_and_routed_to_another_agent(site):
    # given
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now - timedelta(seconds=91))
    make_agent(site, name="Bea", now=now)
    conversation = make_conversation(site, agent=ada, now=now)

    # when
    result = chat_housekeeping(now=now)

    # then
    assert counts(result) == {"conversations_requeued": 1, "conversations_assigned": 1}
    assert owner(conversation) == (ConversationStatus.ACTIVE, "Bea")
    assert messages(conversation) == [(1, Sender.SYSTEM, REQUEUED_TEXT)]


@pytest.mark.django_db
def test_past_the_grace_period_with_nobody_online_the_chat_waits_in_the_queue(site):
    # given
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now - timedelta(minutes=10))
    conversation = make_conversation(site, agent=ada, now=now)

    # when
    result = chat_housekeeping(now=now)
    again = chat_housekeeping(now=now + timedelta(seconds=5))

    # then: re-queued once, announced once
    assert counts(result) == {"conversations_requeued": 1}
    assert counts(again) == {}
    assert owner(conversation) == (ConversationStatus.QUEUED, None)
    assert messages(conversation) == [(1, Sender.SYSTEM, REQUEUED_TEXT)]


@pytest.mark.django_db(transaction=True)
async def test_the_shopper_is_told_and_sees_the_new_agent(site, sockets):
    # given: the shopper is connected; Ada went silent long ago; Bea is online
    now = timezone.now()
    ada = await database_sync_to_async(make_agent)(site, name="Ada", now=now - timedelta(hours=1))
    await database_sync_to_async(make_agent)(site, name="Bea", now=now)
    conversation = await database_sync_to_async(make_conversation)(
        site, visitor_id="v1", agent=ada, now=now
    )
    widget, hello = await sockets.widget(site, "v1")

    # when
    await database_sync_to_async(chat_housekeeping)(now=now)
    frames = [await widget.receive_json_from(timeout=FRAME_TIMEOUT) for _ in range(3)]

    # then: waiting (the agent left), the announcement, then Bea
    assert [c["id"] for c in hello["conversations"]] == [conversation.pk]
    assert [f["type"] for f in frames] == ["conversation", "message", "conversation"]
    assert (frames[0]["conversation"]["status"], frames[0]["conversation"]["agent_name"]) == (
        "queued",
        "",
    )
    assert (frames[1]["message"]["seq"], frames[1]["message"]["text"]) == (1, REQUEUED_TEXT)
    assert (frames[2]["conversation"]["status"], frames[2]["conversation"]["agent_name"]) == (
        "active",
        "Bea",
    )


# --- a shopper who left ----------------------------------------------------------------


@pytest.mark.django_db
def test_shopper_not_seen_for_the_visitor_timeout_is_timed_out(site):
    # given: a chatting shopper gone for 5 min 1 s, one seen 4 min ago, and a shopper who
    # left while waiting in the queue
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now)
    gone = make_conversation(site, visitor_id="gone", agent=ada, now=now - timedelta(minutes=6))
    Conversation.objects.filter(pk=gone.pk).update(
        visitor_last_seen_at=now - timedelta(minutes=5, seconds=1)
    )
    here = make_conversation(site, visitor_id="here", agent=ada, now=now - timedelta(minutes=4))
    gone_waiting = make_conversation(site, visitor_id="waiting", now=now - timedelta(minutes=9))

    # when
    result = chat_housekeeping(now=now)

    # then
    assert counts(result) == {"conversations_timed_out": 2}
    for conversation in (gone, gone_waiting):
        conversation.refresh_from_db()
        assert (conversation.status, conversation.close_reason, conversation.closed_at) == (
            ConversationStatus.CLOSED,
            CloseReason.VISITOR_TIMEOUT,
            now,
        )
    assert owner(here) == (ConversationStatus.ACTIVE, "Ada")


@pytest.mark.django_db(transaction=True)
async def test_a_connected_shopper_who_pings_is_not_timed_out(site, sockets):
    # given: the conversation was last touched long ago, but the shopper's page is open
    now = timezone.now()
    conversation = await database_sync_to_async(make_conversation)(
        site, visitor_id="v1", now=now - timedelta(hours=1)
    )
    widget, _ = await sockets.widget(site, "v1")

    # when
    await widget.send_json_to({"type": "ping"})
    assert await widget.receive_json_from(timeout=FRAME_TIMEOUT) == {"type": "pong"}
    result = await database_sync_to_async(chat_housekeeping)(now=timezone.now())

    # then
    assert result.conversations_timed_out == 0
    stored = await database_sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert stored.status == ConversationStatus.QUEUED
