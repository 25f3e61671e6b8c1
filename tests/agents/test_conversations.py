"""Conversations and messages: persisted first, then published — exactly once, and only
for committed state (after Zulip's ``capture_send_event_calls``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from agents import realtime
from agents.errors import ChatError
from agents.models import CloseReason, Conversation, ConversationStatus, Message, Sender
from agents.services.assignment import conversation_close
from agents.services.conversations import (
    conversation_message_post,
    conversation_messages_since,
    conversation_read,
    conversation_typing,
)
from tests.fixtures.agents import make_agent, make_conversation

pytestmark = pytest.mark.django_db


def post(conversation, client_message_id, text="hello", *, sender=Sender.VISITOR, agent=None):
    return conversation_message_post(
        conversation_id=conversation.pk,
        sender=sender,
        agent=agent,
        client_message_id=client_message_id,
        text=text,
        now=timezone.now(),
    )


def stored(conversation) -> list[tuple[int, str, str]]:
    return list(
        Message.objects.filter(conversation=conversation)
        .order_by("seq")
        .values_list("seq", "sender", "text")
    )


# --- posting ---------------------------------------------------------------------------


def test_messages_get_consecutive_sequence_numbers(site):
    # given
    ada = make_agent(site)
    conversation = make_conversation(site, agent=ada)

    # when
    post(conversation, "v-1", "hi")
    post(conversation, "a-1", "hello!", sender=Sender.AGENT, agent=ada)
    post(conversation, "v-2", "is delivery free?")

    # then
    assert stored(conversation) == [
        (1, Sender.VISITOR, "hi"),
        (2, Sender.AGENT, "hello!"),
        (3, Sender.VISITOR, "is delivery free?"),
    ]
    conversation.refresh_from_db()
    assert conversation.last_seq == 3


def test_posting_one_message_publishes_exactly_one_message_created(site, capture_published):
    # given
    ada = make_agent(site)
    conversation = make_conversation(site, agent=ada)

    # when
    with capture_published(expected=1) as published:
        posted = post(conversation, "a-1", "Hello, I'm Ada.", sender=Sender.AGENT, agent=ada)

    # then
    (event,) = published
    assert (event.group, event.type) == (
        realtime.conversation_group(conversation.pk),
        realtime.MESSAGE_CREATED,
    )
    assert event.payload == {
        "conversation_id": conversation.pk,
        "message": {
            "seq": 1,
            "sender": "agent",
            "author_name": "Ada",
            "agent": {"first_name": "Ada", "photo_url": ""},
            "kind": "text",
            "meta": {},
            "text": "Hello, I'm Ada.",
            "client_message_id": "a-1",
            "created_at": posted.message.created_at.isoformat().replace("+00:00", "Z"),
        },
    }


def test_retry_with_the_same_client_message_id_returns_the_original_and_publishes_nothing(
    site, capture_published
):
    # given
    conversation = make_conversation(site)
    first = post(conversation, "m-1", "first try")

    # when
    with capture_published(expected=0):
        again = post(conversation, "m-1", "second try")

    # then
    assert (first.created, again.created) == (True, False)
    assert again.message.pk == first.message.pk
    assert again.message.seq == 1
    assert stored(conversation) == [(1, Sender.VISITOR, "first try")]


def test_same_client_message_id_from_the_other_side_is_another_message(site):
    # given: client ids are the sender's own, so they may coincide across sides
    ada = make_agent(site)
    conversation = make_conversation(site, agent=ada)
    post(conversation, "m-1", "from the shopper")

    # when
    posted = post(conversation, "m-1", "from Ada", sender=Sender.AGENT, agent=ada)

    # then
    assert posted.created is True
    assert stored(conversation) == [
        (1, Sender.VISITOR, "from the shopper"),
        (2, Sender.AGENT, "from Ada"),
    ]


def test_refused_send_publishes_nothing_and_stores_nothing(site, capture_published):
    # given
    conversation = make_conversation(site, status=ConversationStatus.CLOSED)

    # when
    with capture_published(expected=0), pytest.raises(ChatError) as refused:
        post(conversation, "late-1", "hello?")

    # then
    assert (refused.value.code, refused.value.ref) == ("closed", "late-1")
    assert stored(conversation) == []
    conversation.refresh_from_db()
    assert conversation.last_seq == 0


def test_nothing_is_published_when_the_transaction_rolls_back(site, capture_published):
    # given
    conversation = make_conversation(site)

    # when: the message is stored, then something later in the same transaction fails
    with (  # noqa: PT012 - the store and the failure belong to one transaction
        capture_published(expected=0),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        post(conversation, "m-1", "never happened")
        raise RuntimeError("a later step failed")

    # then
    assert stored(conversation) == []
    conversation.refresh_from_db()
    assert conversation.last_seq == 0


def test_agent_who_does_not_own_the_chat_cannot_post(site, capture_published):
    # given
    ada = make_agent(site, name="Ada")
    bea = make_agent(site, name="Bea")
    conversation = make_conversation(site, agent=ada)

    # when
    with capture_published(expected=0), pytest.raises(ChatError) as refused:
        post(conversation, "b-1", "let me help", sender=Sender.AGENT, agent=bea)

    # then
    assert (refused.value.code, refused.value.ref) == ("not_found", "b-1")
    assert stored(conversation) == []


def test_supervisor_may_post_in_any_chat_of_the_site(site):
    # given
    ada = make_agent(site, name="Ada")
    boss = make_agent(site, name="Boss", supervisor=True)
    conversation = make_conversation(site, agent=ada)

    # when
    posted = post(conversation, "s-1", "I can approve that", sender=Sender.AGENT, agent=boss)

    # then
    assert (posted.created, posted.author_name) == (True, "Boss")


def test_first_agent_message_time_is_recorded_once(site):
    # given
    ada = make_agent(site)
    conversation = make_conversation(site, agent=ada)

    # when
    first = post(conversation, "a-1", "hi", sender=Sender.AGENT, agent=ada)
    post(conversation, "a-2", "anything else?", sender=Sender.AGENT, agent=ada)

    # then
    conversation.refresh_from_db()
    assert conversation.first_agent_message_at == first.message.created_at


def test_html_is_stored_verbatim(site):
    conversation = make_conversation(site)
    post(conversation, "m-1", "<b>bold</b> & <script>x()</script>")
    assert stored(conversation) == [(1, Sender.VISITOR, "<b>bold</b> & <script>x()</script>")]


# --- resume: stale state plus the events published since equals a fresh fetch -----------


def test_messages_since_plus_published_events_equals_a_fresh_fetch(site, capture_published):
    # given: a client fetched the conversation after two messages
    ada = make_agent(site)
    conversation = make_conversation(site, agent=ada)
    with capture_published(expected=2):  # committed and published
        post(conversation, "v-1", "hi")
        post(conversation, "a-1", "hello", sender=Sender.AGENT, agent=ada)
    stale = conversation_messages_since(conversation_id=conversation.pk, after_seq=0)

    # when: three more messages are published while it listens
    with capture_published(expected=3) as published:
        post(conversation, "v-2", "is delivery free?")
        post(conversation, "a-2", "over 50 EUR, yes", sender=Sender.AGENT, agent=ada)
        post(conversation, "v-3", "great")

    # then
    applied = stale + [event.payload["message"] for event in published]
    assert applied == conversation_messages_since(conversation_id=conversation.pk, after_seq=0)
    assert [m["seq"] for m in applied] == [1, 2, 3, 4, 5]


def test_messages_since_returns_exactly_the_later_ones_in_order(site):
    # given
    conversation = make_conversation(site)
    for n in range(1, 6):
        post(conversation, f"m-{n}", f"message {n}")

    # then
    assert [
        m["seq"] for m in conversation_messages_since(conversation_id=conversation.pk, after_seq=2)
    ] == [
        3,
        4,
        5,
    ]
    assert conversation_messages_since(conversation_id=conversation.pk, after_seq=5) == []


# --- read receipts and typing ----------------------------------------------------------


def test_read_receipt_moves_forward_and_is_published_once(site, capture_published):
    # given
    conversation = make_conversation(site)
    for n in range(1, 4):
        post(conversation, f"m-{n}")
    conversation.refresh_from_db()

    # when
    with capture_published(expected=1) as published:
        seq = conversation_read(conversation=conversation, reader=Sender.AGENT, seq=2)

    # then
    assert seq == 2
    assert published[0].payload == {"conversation_id": conversation.pk, "reader": "agent", "seq": 2}
    conversation.refresh_from_db()
    assert (conversation.agent_read_seq, conversation.visitor_read_seq) == (2, 0)


def test_read_receipt_never_goes_backwards(site, capture_published):
    # given
    conversation = make_conversation(site)
    for n in range(1, 4):
        post(conversation, f"m-{n}")
    conversation.refresh_from_db()
    conversation_read(conversation=conversation, reader=Sender.VISITOR, seq=3)

    # when
    with capture_published(expected=0):
        conversation_read(conversation=conversation, reader=Sender.VISITOR, seq=1)
        conversation_read(conversation=conversation, reader=Sender.VISITOR, seq=3)

    # then
    conversation.refresh_from_db()
    assert conversation.visitor_read_seq == 3


def test_read_receipt_never_passes_the_last_seq(site):
    # given
    conversation = make_conversation(site)
    post(conversation, "m-1")
    post(conversation, "m-2")
    conversation.refresh_from_db()

    # when
    seq = conversation_read(conversation=conversation, reader=Sender.VISITOR, seq=999)

    # then
    conversation.refresh_from_db()
    assert (seq, conversation.visitor_read_seq) == (2, 2)


def test_typing_is_published_and_never_stored(site, capture_published):
    # given
    conversation = make_conversation(site)

    # when
    with capture_published(expected=1) as published:
        conversation_typing(conversation=conversation, sender=Sender.VISITOR)

    # then
    assert (published[0].group, published[0].type, published[0].payload) == (
        realtime.conversation_group(conversation.pk),
        realtime.TYPING,
        {"conversation_id": conversation.pk, "sender": "visitor"},
    )
    assert stored(conversation) == []


# --- closing ---------------------------------------------------------------------------


def test_close_records_reason_and_disposition_and_tells_everyone(site, capture_published):
    # given
    now = timezone.now()
    ada = make_agent(site, now=now)
    conversation = make_conversation(site, agent=ada, visitor_id="shopper")

    # when
    with capture_published() as published:
        conversation_close(
            conversation_id=conversation.pk,
            reason=CloseReason.AGENT,
            disposition="converted",
            now=now,
        )

    # then
    conversation.refresh_from_db()
    assert (
        conversation.status,
        conversation.close_reason,
        conversation.disposition,
        conversation.closed_at,
    ) == (ConversationStatus.CLOSED, CloseReason.AGENT, "converted", now)
    closed = {"conversation_id": conversation.pk, "reason": "agent"}
    assert [(p.group, p.type) for p in published] == [
        (realtime.conversation_group(conversation.pk), realtime.CONVERSATION_CLOSED),
        (realtime.visitor_group(site.pk, "shopper"), realtime.CONVERSATION_CLOSED),
        (realtime.visitor_group(site.pk, "shopper"), realtime.CONVERSATION_UPDATED),
        (realtime.conversation_group(conversation.pk), realtime.CONVERSATION_UPDATED),
        (realtime.agent_group(ada.pk), realtime.CONVERSATION_UPDATED),
        (realtime.console_supervisors_group(site.pk), realtime.CONVERSATION_UPDATED),
        (realtime.console_site_group(site.pk), realtime.QUEUE_CHANGED),
    ]
    assert [p.payload for p in published[:2]] == [closed, closed]


def test_closing_twice_changes_and_publishes_nothing_the_second_time(site, capture_published):
    # given
    now = timezone.now()
    conversation = make_conversation(site)
    conversation_close(conversation_id=conversation.pk, reason=CloseReason.VISITOR, now=now)

    # when
    with capture_published(expected=0):
        conversation_close(
            conversation_id=conversation.pk,
            reason=CloseReason.AGENT,
            disposition="resolved",
            now=now + timedelta(minutes=1),
        )

    # then
    stored_conversation = Conversation.objects.get(pk=conversation.pk)
    assert (
        stored_conversation.close_reason,
        stored_conversation.disposition,
        stored_conversation.closed_at,
    ) == (CloseReason.VISITOR, "", now)
