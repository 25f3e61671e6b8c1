"""Routing: least-loaded agent first, the queue by priority, claims, transfers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agents import realtime
from agents.errors import ChatError
from agents.models import (
    AgentStatus,
    CloseReason,
    Conversation,
    ConversationStatus,
    Message,
    Sender,
)
from agents.selectors import console_queue
from agents.services.assignment import (
    conversation_claim,
    conversation_close,
    conversation_route,
    conversation_transfer,
    queue_drain,
)
from tests.fixtures.agents import make_agent, make_conversation
from tests.fixtures.sites import make_site

pytestmark = pytest.mark.django_db


def routed_agent(conversation: Conversation) -> tuple[str, str | None]:
    conversation.refresh_from_db()
    return conversation.status, conversation.agent.display_name if conversation.agent else None


def give(agent, count: int) -> None:
    """``count`` active chats for ``agent``."""
    for n in range(count):
        make_conversation(agent.site, visitor_id=f"busy-{agent.pk}-{n}", agent=agent)


# --- routing ---------------------------------------------------------------------------


def test_chat_goes_to_the_least_loaded_online_agent(site):
    # given: Ada has 2 chats, Bea 1; Cy, Dee and Eve are free but cannot take chats now
    now = timezone.now()
    ada = make_agent(site, name="Ada", capacity=3, now=now)
    bea = make_agent(site, name="Bea", capacity=3, now=now)
    give(ada, 2)
    give(bea, 1)
    make_agent(site, name="Cy", online=False)
    dee = make_agent(site, name="Dee", now=now)
    dee.status = AgentStatus.AWAY
    dee.save()
    make_agent(site, name="Eve", now=now - timedelta(seconds=46))  # heartbeat too old
    conversation = make_conversation(site, visitor_id="shopper")

    # when
    conversation_route(conversation=conversation, now=now)

    # then
    assert routed_agent(conversation) == (ConversationStatus.ACTIVE, "Bea")
    assert conversation.assigned_at == now


def test_equal_load_goes_to_the_agent_with_more_free_seats(site):
    # given
    now = timezone.now()
    make_agent(site, name="Ada", capacity=2, now=now)
    make_agent(site, name="Bea", capacity=5, now=now)
    conversation = make_conversation(site, visitor_id="shopper")

    # when
    conversation_route(conversation=conversation, now=now)

    # then
    assert routed_agent(conversation) == (ConversationStatus.ACTIVE, "Bea")


def test_agent_at_capacity_is_skipped(site):
    # given
    now = timezone.now()
    ada = make_agent(site, name="Ada", capacity=1, now=now)
    give(ada, 1)
    bea = make_agent(site, name="Bea", capacity=4, now=now)
    give(bea, 3)
    conversation = make_conversation(site, visitor_id="shopper")

    # when
    conversation_route(conversation=conversation, now=now)

    # then
    assert routed_agent(conversation) == (ConversationStatus.ACTIVE, "Bea")


def test_preferred_agent_who_went_offline_is_passed_over_for_the_least_loaded(site):
    # given: the invitation named Ada, who has since gone silent
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now - timedelta(minutes=5))
    make_agent(site, name="Bea", now=now)
    conversation = make_conversation(site, visitor_id="shopper")

    # when
    conversation_route(conversation=conversation, now=now, preferred_agent_id=ada.pk)

    # then
    assert routed_agent(conversation) == (ConversationStatus.ACTIVE, "Bea")


def test_preferred_agent_who_can_take_the_chat_gets_it_even_if_busier(site):
    # given: the shopper was told Ada would answer
    now = timezone.now()
    ada = make_agent(site, name="Ada", capacity=3, now=now)
    give(ada, 2)
    make_agent(site, name="Bea", now=now)
    conversation = make_conversation(site, visitor_id="shopper")

    # when
    conversation_route(conversation=conversation, now=now, preferred_agent_id=ada.pk)

    # then
    assert routed_agent(conversation) == (ConversationStatus.ACTIVE, "Ada")


def test_agents_of_another_site_are_never_chosen(site):
    # given
    now = timezone.now()
    other = make_site(name="Other")
    stranger = make_agent(other, name="Stranger", now=now)
    conversation = make_conversation(site, visitor_id="shopper")

    # when
    conversation_route(conversation=conversation, now=now, preferred_agent_id=stranger.pk)

    # then
    assert routed_agent(conversation) == (ConversationStatus.QUEUED, None)


def test_when_every_agent_is_busy_the_chat_waits_in_the_queue(site, capture_published):
    # given
    now = timezone.now()
    ada = make_agent(site, name="Ada", capacity=1, now=now)
    give(ada, 1)
    conversation = make_conversation(site, visitor_id="shopper")

    # when
    with capture_published() as published:
        conversation_route(conversation=conversation, now=now)

    # then
    assert routed_agent(conversation) == (ConversationStatus.QUEUED, None)
    assert [item["conversation_id"] for item in console_queue(site_id=site.pk, now=now)] == [
        conversation.pk
    ]
    # the shopper learns that they are waiting; the consoles that the queue changed
    assert [(p.group, p.type) for p in published] == [
        (realtime.visitor_group(site.pk, "shopper"), realtime.CONVERSATION_UPDATED),
        (realtime.conversation_group(conversation.pk), realtime.CONVERSATION_UPDATED),
        (realtime.console_site_group(site.pk), realtime.QUEUE_CHANGED),
    ]
    assert published[0].payload["conversation"]["status"] == "queued"


# --- the queue: urgency, then cart value, not first come first served -------------------


def make_queue(site, now):
    """Four waiting chats, created in this order (oldest first)."""
    return {
        "old_low": make_conversation(
            site, visitor_id="v1", urgency=10, cart_value="500.00", now=now - timedelta(minutes=9)
        ),
        "urgent_cheap": make_conversation(
            site, visitor_id="v2", urgency=80, cart_value="20.00", now=now - timedelta(minutes=8)
        ),
        "mid_valuable": make_conversation(
            site, visitor_id="v3", urgency=50, cart_value="900.00", now=now - timedelta(minutes=7)
        ),
        "urgent_valuable": make_conversation(
            site, visitor_id="v4", urgency=80, cart_value="300.00", now=now - timedelta(minutes=6)
        ),
    }


def test_queue_is_ordered_by_urgency_then_cart_value_not_arrival(site):
    # given
    now = timezone.now()
    chats = make_queue(site, now)

    # when
    queue = console_queue(site_id=site.pk, now=now)

    # then
    assert [(item["kind"], item["conversation_id"]) for item in queue] == [
        ("chat", chats["urgent_valuable"].pk),
        ("chat", chats["urgent_cheap"].pk),
        ("chat", chats["mid_valuable"].pk),
        ("chat", chats["old_low"].pk),
    ]
    assert [(item["urgency"], item["cart_value"]) for item in queue] == [
        (80, "300.000"),
        (80, "20.000"),
        (50, "900.000"),
        (10, "500.000"),
    ]


def test_equal_priority_is_served_oldest_first(site):
    # given
    now = timezone.now()
    later = make_conversation(site, visitor_id="v2", urgency=40, now=now - timedelta(minutes=1))
    earlier = make_conversation(site, visitor_id="v1", urgency=40, now=now - timedelta(minutes=2))
    make_agent(site, name="Ada", capacity=1, now=now)

    # when
    assigned = queue_drain(site_id=site.pk, now=now)

    # then
    assert assigned == 1
    assert routed_agent(earlier) == (ConversationStatus.ACTIVE, "Ada")
    assert routed_agent(later) == (ConversationStatus.QUEUED, None)


def test_queue_drain_assigns_the_highest_priority_first(site):
    # given: one agent with two free seats comes online
    now = timezone.now()
    chats = make_queue(site, now)
    make_agent(site, name="Ada", capacity=2, now=now)

    # when
    assigned = queue_drain(site_id=site.pk, now=now)

    # then
    assert assigned == 2
    assert {name: routed_agent(c) for name, c in chats.items()} == {
        "urgent_valuable": (ConversationStatus.ACTIVE, "Ada"),
        "urgent_cheap": (ConversationStatus.ACTIVE, "Ada"),
        "mid_valuable": (ConversationStatus.QUEUED, None),
        "old_low": (ConversationStatus.QUEUED, None),
    }


def test_a_freed_seat_goes_to_the_highest_priority_waiting_chat(site):
    # given: Ada is full; four chats wait
    now = timezone.now()
    ada = make_agent(site, name="Ada", capacity=1, now=now)
    current = make_conversation(site, visitor_id="current", agent=ada)
    chats = make_queue(site, now)

    # when
    conversation_close(conversation_id=current.pk, reason=CloseReason.AGENT, now=now)

    # then
    assert {name: routed_agent(c) for name, c in chats.items()} == {
        "urgent_valuable": (ConversationStatus.ACTIVE, "Ada"),
        "urgent_cheap": (ConversationStatus.QUEUED, None),
        "mid_valuable": (ConversationStatus.QUEUED, None),
        "old_low": (ConversationStatus.QUEUED, None),
    }


def test_queue_drain_without_free_seats_assigns_nothing(site, capture_published):
    # given
    now = timezone.now()
    chats = make_queue(site, now)
    ada = make_agent(site, name="Ada", capacity=1, now=now)
    give(ada, 1)

    # when
    with capture_published(expected=0):
        assigned = queue_drain(site_id=site.pk, now=now)

    # then
    assert assigned == 0
    assert {routed_agent(c) for c in chats.values()} == {(ConversationStatus.QUEUED, None)}


# --- claim -----------------------------------------------------------------------------


def test_agent_claims_a_queued_chat(site, capture_published):
    # given
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now)
    conversation = make_conversation(site, visitor_id="shopper")

    # when
    with capture_published(expected=5) as published:
        claimed = conversation_claim(agent=ada, conversation_id=conversation.pk, now=now)

    # then
    assert (claimed.pk, claimed.status, claimed.agent_id) == (
        conversation.pk,
        ConversationStatus.ACTIVE,
        ada.pk,
    )
    assert routed_agent(conversation) == (ConversationStatus.ACTIVE, "Ada")
    assert conversation.assigned_at == now
    assert (realtime.agent_group(ada.pk), realtime.CONVERSATION_UPDATED) in [
        (p.group, p.type) for p in published
    ]


def test_second_claim_of_the_same_chat_fails_and_changes_nothing(site, capture_published):
    # given: Ada claimed first
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now)
    bea = make_agent(site, name="Bea", now=now)
    conversation = make_conversation(site, visitor_id="shopper")
    conversation_claim(agent=ada, conversation_id=conversation.pk, now=now)

    # when
    with capture_published(expected=0), pytest.raises(ChatError) as refused:
        conversation_claim(
            agent=bea, conversation_id=conversation.pk, now=now + timedelta(seconds=1)
        )

    # then
    assert (refused.value.code, refused.value.message) == (
        "invalid_state",
        "Someone else has taken this conversation.",
    )
    assert routed_agent(conversation) == (ConversationStatus.ACTIVE, "Ada")
    assert conversation.assigned_at == now


def test_claim_at_capacity_is_refused(site):
    # given
    now = timezone.now()
    ada = make_agent(site, name="Ada", capacity=1, now=now)
    give(ada, 1)
    conversation = make_conversation(site, visitor_id="shopper")

    # when
    with pytest.raises(ChatError) as refused:
        conversation_claim(agent=ada, conversation_id=conversation.pk, now=now)

    # then
    assert (refused.value.code, refused.value.message) == (
        "invalid_state",
        "You are at capacity: close a chat first.",
    )
    assert routed_agent(conversation) == (ConversationStatus.QUEUED, None)


def test_supervisor_may_claim_beyond_capacity(site):
    # given
    now = timezone.now()
    boss = make_agent(site, name="Boss", capacity=1, supervisor=True, now=now)
    give(boss, 1)
    conversation = make_conversation(site, visitor_id="shopper")

    # when
    conversation_claim(agent=boss, conversation_id=conversation.pk, now=now)

    # then
    assert routed_agent(conversation) == (ConversationStatus.ACTIVE, "Boss")


def test_claim_of_another_sites_chat_is_not_found(site):
    # given
    now = timezone.now()
    other = make_site(name="Other")
    conversation = make_conversation(other, visitor_id="shopper")
    ada = make_agent(site, name="Ada", now=now)

    # when
    with pytest.raises(ChatError) as refused:
        conversation_claim(agent=ada, conversation_id=conversation.pk, now=now)

    # then
    assert refused.value.code == "not_found"
    assert routed_agent(conversation) == (ConversationStatus.QUEUED, None)


def test_closed_chat_cannot_be_claimed(site):
    # given
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now)
    conversation = make_conversation(site, visitor_id="shopper", status=ConversationStatus.CLOSED)

    # when
    with pytest.raises(ChatError) as refused:
        conversation_claim(agent=ada, conversation_id=conversation.pk, now=now)

    # then
    assert refused.value.code == "invalid_state"
    assert routed_agent(conversation) == (ConversationStatus.CLOSED, None)


# --- transfer --------------------------------------------------------------------------


def test_transfer_to_an_online_colleague_with_a_free_seat(site, capture_published):
    # given
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now)
    bea = make_agent(site, name="Bea", now=now)
    conversation = make_conversation(site, visitor_id="shopper", agent=ada)

    # when
    with capture_published() as published:
        conversation_transfer(
            agent=ada, conversation_id=conversation.pk, to_agent_id=bea.pk, now=now
        )

    # then: Bea has it, and the chat says so (persisted like any message)
    assert routed_agent(conversation) == (ConversationStatus.ACTIVE, "Bea")
    assert list(
        Message.objects.filter(conversation=conversation).values_list("seq", "sender", "text")
    ) == [(1, Sender.SYSTEM, "Bea has taken over this conversation.")]
    assert conversation.last_seq == 1
    assert [(p.group, p.type) for p in published] == [
        (realtime.visitor_group(site.pk, "shopper"), realtime.CONVERSATION_UPDATED),
        (realtime.conversation_group(conversation.pk), realtime.CONVERSATION_UPDATED),
        (realtime.agent_group(bea.pk), realtime.CONVERSATION_UPDATED),
        (realtime.console_supervisors_group(site.pk), realtime.CONVERSATION_UPDATED),
        (realtime.console_site_group(site.pk), realtime.QUEUE_CHANGED),
        (realtime.agent_group(ada.pk), realtime.CONVERSATION_UPDATED),
        (realtime.conversation_group(conversation.pk), realtime.MESSAGE_CREATED),
    ]
    assert published[-1].payload["message"]["author_name"] == "CartAssist"


def transfer_refusal(ada, conversation, to_agent, now, capture_published) -> ChatError:
    before = (conversation.agent_id, conversation.status, Message.objects.count())
    with capture_published(expected=0), pytest.raises(ChatError) as refused:
        conversation_transfer(
            agent=ada, conversation_id=conversation.pk, to_agent_id=to_agent.pk, now=now
        )
    conversation.refresh_from_db()
    assert (conversation.agent_id, conversation.status, Message.objects.count()) == before
    return refused.value


def test_transfer_to_an_offline_colleague_is_refused(site, capture_published):
    # given
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now)
    bea = make_agent(site, name="Bea", online=False)
    conversation = make_conversation(site, visitor_id="shopper", agent=ada)

    # when
    error = transfer_refusal(ada, conversation, bea, now, capture_published)

    # then
    assert (error.code, error.message) == ("invalid_state", "Bea is not online.")


def test_transfer_to_a_colleague_whose_heartbeat_stopped_is_refused(site, capture_published):
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now)
    bea = make_agent(site, name="Bea", now=now - timedelta(minutes=2))
    conversation = make_conversation(site, visitor_id="shopper", agent=ada)

    error = transfer_refusal(ada, conversation, bea, now, capture_published)

    assert (error.code, error.message) == ("invalid_state", "Bea is not online.")


def test_transfer_to_a_full_colleague_is_refused(site, capture_published):
    # given
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now)
    bea = make_agent(site, name="Bea", capacity=1, now=now)
    give(bea, 1)
    conversation = make_conversation(site, visitor_id="shopper", agent=ada)

    # when
    error = transfer_refusal(ada, conversation, bea, now, capture_published)

    # then
    assert (error.code, error.message) == ("invalid_state", "Bea has no free seat.")


def test_transfer_to_an_agent_of_another_site_is_refused(site, capture_published):
    # given
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now)
    stranger = make_agent(make_site(name="Other"), name="Stranger", now=now)
    conversation = make_conversation(site, visitor_id="shopper", agent=ada)

    # when
    error = transfer_refusal(ada, conversation, stranger, now, capture_published)

    # then: indistinguishable from an agent that does not exist
    assert (error.code, error.message) == ("not_found", "No such agent.")


def test_transfer_to_oneself_is_refused(site, capture_published):
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now)
    conversation = make_conversation(site, visitor_id="shopper", agent=ada)

    error = transfer_refusal(ada, conversation, ada, now, capture_published)

    assert (error.code, error.message) == (
        "invalid_state",
        "That agent already has this conversation.",
    )


def test_transfer_of_someone_elses_chat_is_not_found(site, capture_published):
    # given: Cy tries to give away Ada's chat
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now)
    bea = make_agent(site, name="Bea", now=now)
    cy = make_agent(site, name="Cy", now=now)
    conversation = make_conversation(site, visitor_id="shopper", agent=ada)

    # when
    error = transfer_refusal(cy, conversation, bea, now, capture_published)

    # then
    assert (error.code, error.message) == ("not_found", "No such conversation.")


def test_supervisor_may_transfer_any_chat_of_the_site(site):
    # given
    now = timezone.now()
    ada = make_agent(site, name="Ada", now=now)
    bea = make_agent(site, name="Bea", now=now)
    boss = make_agent(site, name="Boss", supervisor=True, now=now)
    conversation = make_conversation(site, visitor_id="shopper", agent=ada)

    # when
    conversation_transfer(agent=boss, conversation_id=conversation.pk, to_agent_id=bea.pk, now=now)

    # then
    assert routed_agent(conversation) == (ConversationStatus.ACTIVE, "Bea")
