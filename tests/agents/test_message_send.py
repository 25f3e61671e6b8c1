"""The socket's message send (ADR 0017): one statement on PostgreSQL, the ORM path on
SQLite, the same rules in both.

- seqs stay unique and gap-free under many concurrent senders, duplicates included (a
  duplicate consumes no seq), PostgreSQL only: that is where senders really overlap;
- authorisation is checked in the write: a chat closed or handed to another agent since
  the socket connected refuses, and stores nothing;
- a resend returns the stored message with its seq; an agent's first message sets the
  first response time, a shopper's their last-seen time.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from agents import realtime
from agents.errors import ChatError, NotFound
from agents.models import AgentProfile, CloseReason, Conversation, Message, Sender
from agents.services.assignment import conversation_close
from agents.services.conversations import (
    PostedMessage,
    conversation_message_send,
    conversation_published_flush,
)
from cartassist.core import async_db
from tests.fixtures.agents import FRAME_TIMEOUT, make_agent, make_conversation
from tests.fixtures.sites import make_site

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


async def send(
    conversation: Conversation,
    client_message_id: str,
    *,
    agent: AgentProfile | None = None,
    visitor_id: str | None = None,
    text: str = "hello",
) -> PostedMessage:
    if agent is not None:
        return await conversation_message_send(
            conversation_id=conversation.pk,
            sender=Sender.AGENT,
            agent=agent,
            site_id=agent.site_id,
            client_message_id=client_message_id,
            text=text,
            now=timezone.now(),
        )
    return await conversation_message_send(
        conversation_id=conversation.pk,
        sender=Sender.VISITOR,
        site_id=conversation.site_id,
        visitor_id=visitor_id or conversation.visitor_id,
        client_message_id=client_message_id,
        text=text,
        now=timezone.now(),
    )


def stored(conversation_id: int) -> list[tuple[int, str, str]]:
    return list(
        Message.objects.filter(conversation_id=conversation_id)
        .order_by("seq")
        .values_list("seq", "sender", "client_message_id")
    )


def fresh(conversation_id: int) -> Conversation:
    return Conversation.objects.get(pk=conversation_id)


@pytest.mark.postgres
async def test_concurrent_sends_with_duplicates_get_unique_gap_free_seqs(site: Any) -> None:
    # given: a chat, and 20 distinct messages from both sides, each sent three times,
    # all at once, in a random order, over the async pool's connections
    assert await db(async_db.available)(), "PostgreSQL with the async pool"
    agent = await db(make_agent)(site)
    conversation = await db(make_conversation)(site, agent=agent)
    sends = [(f"{side}-{n}", side) for n in range(10) for side in ("v", "a") for _ in range(3)]
    random.Random(13).shuffle(sends)

    # when
    results = await asyncio.gather(
        *(send(conversation, cid, agent=agent if side == "a" else None) for cid, side in sends)
    )

    # then: 20 messages, seqs 1..20, each client message id once; last_seq is 20
    rows = await db(stored)(conversation.pk)
    assert [seq for seq, _s, _c in rows] == list(range(1, 21))
    assert sorted(cid for _s, _sender, cid in rows) == sorted({cid for cid, _ in sends})
    after = await db(fresh)(conversation.pk)
    assert after.last_seq == 20
    # ...each message created exactly once; every resend got the stored seq back
    assert sum(r.created for r in results) == 20
    seq_of = {cid: seq for seq, _s, cid in rows}
    assert all(r.message.seq == seq_of[cid] for r, (cid, _) in zip(results, sends, strict=True))
    # ...and everything was published (ADR 0011's published_seq catches up)
    await conversation_published_flush()
    assert (await db(fresh)(conversation.pk)).published_seq == 20


async def test_a_resend_returns_the_stored_message_and_consumes_no_seq(site: Any) -> None:
    # given
    conversation = await db(make_conversation)(site)
    first = await send(conversation, "v-1", text="Is delivery free?")

    # when: the same client message id again (a retry after a lost acknowledgement)
    again = await send(conversation, "v-1", text="Is delivery free?")
    then = await send(conversation, "v-2", text="over 50?")

    # then
    assert (first.created, first.message.seq) == (True, 1)
    assert (again.created, again.message.seq, again.message.text) == (
        False,
        1,
        "Is delivery free?",
    )
    assert then.message.seq == 2
    assert await db(stored)(conversation.pk) == [(1, "visitor", "v-1"), (2, "visitor", "v-2")]


async def test_a_send_to_a_chat_closed_since_is_refused_and_stores_nothing(site: Any) -> None:
    # given: the shopper has written once; then the agent closes the chat
    agent = await db(make_agent)(site)
    conversation = await db(make_conversation)(site, agent=agent)
    await send(conversation, "v-1")
    await db(conversation_close)(
        conversation_id=conversation.pk, reason=CloseReason.AGENT, now=timezone.now()
    )

    # when / then: both sides are refused with "closed"
    with pytest.raises(ChatError) as visitor_refused:
        await send(conversation, "v-2")
    with pytest.raises(ChatError) as agent_refused:
        await send(conversation, "a-1", agent=agent)
    assert (visitor_refused.value.code, agent_refused.value.code) == ("closed", "closed")
    assert await db(stored)(conversation.pk) == [(1, "visitor", "v-1")]
    assert (await db(fresh)(conversation.pk)).last_seq == 1


async def test_an_agent_whose_chat_was_handed_on_can_no_longer_post(site: Any) -> None:
    # given: Ada answered, then the chat went to Bea
    ada = await db(make_agent)(site, name="Ada")
    bea = await db(make_agent)(site, name="Bea")
    conversation = await db(make_conversation)(site, agent=ada)
    await send(conversation, "a-1", agent=ada)
    await db(Conversation.objects.filter(pk=conversation.pk).update)(agent=bea)

    # when / then: Ada's next message looks like a missing chat; Bea's goes through
    with pytest.raises(NotFound):
        await send(conversation, "a-2", agent=ada)
    posted = await send(conversation, "b-1", agent=bea)
    assert posted.message.seq == 2
    assert await db(stored)(conversation.pk) == [(1, "agent", "a-1"), (2, "agent", "b-1")]


async def test_another_visitor_or_site_cannot_post(site: Any) -> None:
    # given: visitor-1's chat; a supervisor of another site
    conversation = await db(make_conversation)(site)
    other_site = await db(make_site)(name="Other shop")
    stranger = await db(make_agent)(other_site, supervisor=True)

    # when / then
    with pytest.raises(NotFound):
        await send(conversation, "x-1", visitor_id="visitor-2")
    with pytest.raises(NotFound):
        await send(conversation, "x-2", agent=stranger)
    assert await db(stored)(conversation.pk) == []


async def test_sends_keep_the_conversations_activity_times(site: Any) -> None:
    # given
    agent = await db(make_agent)(site)
    conversation = await db(make_conversation)(site, agent=agent)
    before = await db(fresh)(conversation.pk)

    # when
    await send(conversation, "v-1")
    after_visitor = await db(fresh)(conversation.pk)
    first = await send(conversation, "a-1", agent=agent)
    await send(conversation, "a-2", agent=agent)
    after_agent = await db(fresh)(conversation.pk)

    # then: the shopper was seen; the first reply time is the agent's first message
    assert before.first_agent_message_at is None
    assert after_visitor.visitor_last_seen_at > before.visitor_last_seen_at
    assert after_visitor.first_agent_message_at is None
    assert after_agent.first_agent_message_at == first.message.created_at
    assert after_agent.visitor_last_seen_at == after_visitor.visitor_last_seen_at


async def test_a_sent_message_is_published_once_in_order_after_it_is_stored(site: Any) -> None:
    # given: a subscriber of the chat's group
    agent = await db(make_agent)(site)
    conversation = await db(make_conversation)(site, agent=agent)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(realtime.conversation_group(conversation.pk), channel)
    seen_stored: list[list[tuple[int, str, str]]] = []
    original = layer.group_send

    async def recording(group: str, message: dict[str, Any]) -> None:
        seen_stored.append(await db(stored)(conversation.pk))  # what is committed now
        await original(group, message)

    layer.group_send = recording
    try:
        # when
        await send(conversation, "v-1")
        await send(conversation, "a-1", agent=agent)
        await send(conversation, "v-1")  # a resend: nothing new to publish
        received = [await asyncio.wait_for(layer.receive(channel), FRAME_TIMEOUT)]
        received.append(await asyncio.wait_for(layer.receive(channel), FRAME_TIMEOUT))
    finally:
        del layer.group_send

    # then: seq 1 then 2, each published after its commit, and nothing more
    assert [m["message"]["seq"] for m in received] == [1, 2]
    assert [len(rows) for rows in seen_stored] == [1, 2]
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(channel), 0.3)
    await conversation_published_flush()
    assert (await db(fresh)(conversation.pk)).published_seq == 2


@pytest.mark.postgres
async def test_the_next_send_records_how_far_the_chat_was_published(site: Any) -> None:
    # given: a subscriber of the chat's group
    agent = await db(make_agent)(site)
    conversation = await db(make_conversation)(site, agent=agent)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(realtime.conversation_group(conversation.pk), channel)

    # when: three messages, one after the other, from this process
    for cid in ("v-1", "a-1", "v-2"):
        await send(conversation, cid, agent=agent if cid.startswith("a") else None)
    stored_before_flush = (await db(fresh)(conversation.pk)).published_seq
    await conversation_published_flush()

    # then: each was published at once, in order; each send recorded the one before it
    # (published_seq 2 after the third), and the last is recorded afterwards
    received = [await asyncio.wait_for(layer.receive(channel), FRAME_TIMEOUT) for _ in range(3)]
    assert [m["message"]["seq"] for m in received] == [1, 2, 3]
    assert stored_before_flush == 2
    assert (await db(fresh)(conversation.pk)).published_seq == 3


@pytest.mark.postgres
async def test_a_send_that_finds_an_earlier_message_unpublished_publishes_both_in_order(
    site: Any,
) -> None:
    # given: seq 1 stored by another process that has not published it yet (stored
    # directly: last_seq 1, published_seq 0)
    conversation = await db(make_conversation)(site)
    await db(Message.objects.create)(
        conversation=conversation,
        seq=1,
        sender=Sender.SYSTEM,
        client_message_id="elsewhere-1",
        text="stored elsewhere",
        created_at=timezone.now(),
    )
    await db(Conversation.objects.filter(pk=conversation.pk).update)(last_seq=1)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(realtime.conversation_group(conversation.pk), channel)

    # when
    await send(conversation, "v-1")

    # then: the send published seq 1 then its own seq 2, and recorded both
    received = [await asyncio.wait_for(layer.receive(channel), FRAME_TIMEOUT) for _ in range(2)]
    assert [m["message"]["seq"] for m in received] == [1, 2]
    assert (await db(fresh)(conversation.pk)).published_seq == 2


async def next_of(ws: Any, wanted: str) -> dict[str, Any]:
    while True:
        frame = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
        if frame["type"] == wanted:
            return frame


async def test_a_console_that_posted_is_refused_once_the_chat_is_handed_on(
    site: Any, sockets: Any
) -> None:
    # given: Ada's console has posted to the chat (its identity is the socket's, loaded
    # when it connected); then the chat goes to Bea
    ada = await db(make_agent)(site, name="Ada")
    bea = await db(make_agent)(site, name="Bea")
    conversation = await db(make_conversation)(site, agent=ada)
    console, _ = await sockets.console(ada)

    def message(cid: str) -> dict[str, Any]:
        return {
            "type": "message.send",
            "conversation_id": conversation.pk,
            "client_message_id": cid,
            "text": "hello",
        }

    await console.send_json_to(message("a-1"))
    first = await next_of(console, "message")
    await db(Conversation.objects.filter(pk=conversation.pk).update)(agent=bea)

    # when: the same socket sends again
    await console.send_json_to(message("a-2"))
    refused = await next_of(console, "error")

    # then
    assert first["message"]["seq"] == 1
    assert (refused["code"], refused.get("ref")) == ("not_found", "a-2")
    assert await db(stored)(conversation.pk) == [(1, "agent", "a-1")]


async def test_a_widget_is_refused_once_its_chat_is_closed(site: Any, sockets: Any) -> None:
    # given: the shopper's widget has posted; then the agent closes the chat
    agent = await db(make_agent)(site)
    conversation = await db(make_conversation)(site, agent=agent)
    widget, _ = await sockets.widget(site)

    def message(cid: str) -> dict[str, Any]:
        return {
            "type": "message.send",
            "conversation_id": conversation.pk,
            "client_message_id": cid,
            "text": "hello",
        }

    await widget.send_json_to(message("v-1"))
    await next_of(widget, "message")
    await db(conversation_close)(
        conversation_id=conversation.pk, reason=CloseReason.AGENT, now=timezone.now()
    )

    # when
    await widget.send_json_to(message("v-2"))
    refused = await next_of(widget, "error")

    # then
    assert (refused["code"], refused.get("ref")) == ("closed", "v-2")
    assert await db(stored)(conversation.pk) == [(1, "visitor", "v-1")]
