"""Chats the shopper starts from the launcher (``chat.start``, docs/REALTIME.md)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from agents.consumers import widget
from agents.models import Conversation, ConversationStatus, Message
from agents.services.visitor_chats import conversation_start_by_visitor
from cartassist.carts.models.followups import FollowUpContact, FollowUpSource
from cartassist.core import ports
from cartassist.domain.stalls import Reason, score_urgency
from tests.fixtures.agents import (
    FRAME_TIMEOUT,
    console_receive,
    make_agent,
    make_conversation,
    make_intervention,
    make_stalled_cart,
)

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


async def start(ws, **fields) -> dict:
    await ws.send_json_to({"type": "chat.start", **fields})
    return await ws.receive_json_from(timeout=FRAME_TIMEOUT)


async def queue_frame_with(ws, conversation_id: int) -> dict:
    """The first ``queue`` frame that lists ``conversation_id``."""
    while True:
        frame = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
        if frame["type"] == "queue" and any(
            item.get("conversation_id") == conversation_id for item in frame["queue"]
        ):
            return frame


async def closed_on_both_frames(ws) -> None:
    """Wait for ``conversation.closed`` and the ``conversation`` frame in its closed state."""
    seen = set()
    while seen != {"conversation.closed", "conversation"}:
        frame = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
        if frame["type"] == "conversation.closed" or (
            frame["type"] == "conversation" and frame["conversation"]["status"] == "closed"
        ):
            seen.add(frame["type"])


# --- starting ---------------------------------------------------------------------------


async def test_start_routes_the_chat_to_an_online_agent_who_sees_it_started_by_the_shopper(
    site, sockets
):
    # given: Ada online in the console, a shopper with a stalled cart
    agent = await db(make_agent)(site, name="Ada")
    await db(make_stalled_cart)(site, visitor_id="visitor-1", external_id="cart-88")
    console, _ = await sockets.console(agent)
    ws, _ = await sockets.widget(site, "visitor-1")

    # when
    opened = await start(ws, cart_id="cart-88")
    agent_sees = await console_receive(console)

    # then: the shopper gets the same frame as after invitation.accept, Ada gets it too
    conversation = await db(Conversation.objects.select_related("cart").get)()
    assert opened["type"] == "conversation"
    assert {
        k: opened["conversation"][k] for k in ("id", "status", "agent_name", "agent_id", "origin")
    } == {
        "id": conversation.pk,
        "status": "active",
        "agent_name": "Ada",
        "agent_id": agent.pk,
        "origin": "shopper",
    }
    assert agent_sees == opened
    assert conversation.invitation_id is None
    assert conversation.cart.external_id == "cart-88"

    # when: they talk
    await ws.send_json_to(
        {
            "type": "message.send",
            "conversation_id": conversation.pk,
            "client_message_id": "v-1",
            "text": "Do you ship to Norway?",
        }
    )
    mine = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
    at_agent = await console_receive(console)

    # then
    assert mine["message"]["text"] == at_agent["message"]["text"] == "Do you ship to Norway?"


async def test_with_no_free_agent_the_chat_queues_and_the_console_queue_labels_it(site, sockets):
    # given: Ada is online but her only seat is taken
    agent = await db(make_agent)(site, name="Ada", capacity=1)
    await db(make_conversation)(site, visitor_id="someone-else", agent=agent)
    console, hello = await sockets.console(agent)
    ws, _ = await sockets.widget(site, "visitor-1")

    # when
    opened = await start(ws)

    # then: queued, and the console's queue lists it as started by the shopper
    conversation_id = opened["conversation"]["id"]
    assert (opened["conversation"]["status"], opened["conversation"]["origin"]) == (
        "queued",
        "shopper",
    )
    queue = await queue_frame_with(console, conversation_id)
    (item,) = [i for i in queue["queue"] if i.get("conversation_id") == conversation_id]
    assert (item["kind"], item["origin"], item["stall_reason"], item["cart"]) == (
        "chat",
        "shopper",
        "",
        None,
    )


async def test_starting_twice_returns_the_same_conversation(site, sockets):
    # given
    await db(make_agent)(site)
    ws, _ = await sockets.widget(site, "visitor-1")
    first = await start(ws)

    # when
    second = await start(ws)

    # then
    assert second["type"] == "conversation"
    assert second["conversation"]["id"] == first["conversation"]["id"]
    assert await db(Conversation.objects.count)() == 1


async def test_a_second_tab_gets_the_open_conversation(site, sockets):
    # given: the chat was started in one tab
    ws_one, _ = await sockets.widget(site, "visitor-1")
    first = await start(ws_one)

    # when: another tab of the same shopper starts one
    ws_two, hello = await sockets.widget(site, "visitor-1")
    second = await start(ws_two)

    # then
    assert [c["id"] for c in hello["conversations"]] == [first["conversation"]["id"]]
    assert second["conversation"]["id"] == first["conversation"]["id"]
    assert await db(Conversation.objects.count)() == 1


async def test_another_visitors_cart_is_never_linked(site, sockets):
    # given: cart-x belongs to visitor-2
    await db(make_stalled_cart)(site, visitor_id="visitor-2", external_id="cart-x")
    ws, _ = await sockets.widget(site, "visitor-1")

    # when: visitor-1 names it
    opened = await start(ws, cart_id="cart-x")

    # then: a chat, with no cart and nothing taken from that cart
    conversation = await db(Conversation.objects.get)(pk=opened["conversation"]["id"])
    assert (conversation.cart_id, conversation.urgency, conversation.cart_value) == (
        None,
        0,
        Decimal(0),
    )
    assert opened["conversation"]["cart_value"] == "0.000"


def test_the_visitors_own_cart_gives_urgency_and_value(site):
    # given: a shipping shock (14.90 on 60.00) at the shipping step
    cart = make_stalled_cart(site, visitor_id="visitor-1", external_id="cart-1")

    # when
    conversation = conversation_start_by_visitor(
        site_id=site.pk, visitor_id="visitor-1", cart_external_id="cart-1", now=timezone.now()
    )

    # then
    assert (conversation.cart_id, conversation.urgency, conversation.cart_value) == (
        cart.pk,
        score_urgency(reason=Reason.SHIPPING_SHOCK, stage="shipping", cart_value=Decimal("60")),
        Decimal("60.000"),
    )
    assert (conversation.status, conversation.invitation_id) == (ConversationStatus.QUEUED, None)


def test_a_closed_chat_does_not_stop_a_new_one(site):
    # given
    closed = make_conversation(site, visitor_id="visitor-1", status=ConversationStatus.CLOSED)

    # when
    conversation = conversation_start_by_visitor(
        site_id=site.pk, visitor_id="visitor-1", cart_external_id=None, now=timezone.now()
    )

    # then
    assert conversation.pk != closed.pk
    assert conversation.status == ConversationStatus.QUEUED


def test_a_chat_after_outreach_counts_as_a_follow_up_contact(site):
    # given: the shopper was invited an hour ago
    now = timezone.now()
    cart = make_stalled_cart(site, visitor_id="visitor-1", now=now - timedelta(hours=1))
    intervention = make_intervention(cart, now=now - timedelta(hours=1))

    # when
    conversation = conversation_start_by_visitor(
        site_id=site.pk, visitor_id="visitor-1", cart_external_id=None, now=now
    )

    # then
    contact = FollowUpContact.objects.get()
    assert (contact.conversation_id, contact.intervention_id, contact.source) == (
        conversation.pk,
        intervention.pk,
        FollowUpSource.CHAT,
    )


def test_a_chat_without_outreach_is_no_follow_up(site):
    # when
    conversation_start_by_visitor(
        site_id=site.pk, visitor_id="visitor-1", cart_external_id=None, now=timezone.now()
    )

    # then
    assert FollowUpContact.objects.count() == 0


def test_the_follow_up_is_recorded_in_the_same_transaction(site):
    # given: recording the follow-up fails
    calls = []

    def failing(*, conversation, now):
        calls.append(conversation.pk)
        raise RuntimeError("follow-up store down")

    # when
    with ports.follow_up_chat_record.override(failing), pytest.raises(RuntimeError):
        conversation_start_by_visitor(
            site_id=site.pk, visitor_id="visitor-1", cart_external_id=None, now=timezone.now()
        )

    # then: it was called with the new conversation, and nothing stayed
    assert len(calls) == 1
    assert Conversation.objects.count() == 0


# --- refusals ---------------------------------------------------------------------------


async def test_starts_are_rate_limited_per_shopper_across_sockets(site, sockets, monkeypatch):
    # given: two starts per shopper; a script that ends each chat and starts another
    monkeypatch.setattr(widget, "CHAT_START_BURST", 2)
    ws, _ = await sockets.widget(site, "visitor-1")
    for _ in range(2):
        opened = await start(ws)
        assert opened["type"] == "conversation"
        await ws.send_json_to(
            {"type": "conversation.close", "conversation_id": opened["conversation"]["id"]}
        )
        await closed_on_both_frames(ws)
    fresh, _ = await sockets.widget(site, "visitor-1")

    # when: the next start comes from a fresh socket
    refused = await start(fresh)

    # then: refused, nothing new stored, and the socket still answers
    assert refused == {
        "type": "error",
        "code": "rate_limited",
        "message": "Too many chats started; wait a moment.",
        "ref": "chat.start",
    }
    assert await db(Conversation.objects.count)() == 2
    assert await db(Conversation.objects.filter(status=ConversationStatus.CLOSED).count)() == 2
    await fresh.send_json_to({"type": "ping"})
    assert await fresh.receive_json_from(timeout=FRAME_TIMEOUT) == {"type": "pong"}
    # another shopper of the site is not affected
    other, _ = await sockets.widget(site, "visitor-2")
    assert (await start(other))["type"] == "conversation"


@pytest.mark.parametrize(
    ("cart_id", "message"),
    [(42, "'cart_id' must be a string."), ("x" * 65, "'cart_id' is too long.")],
)
async def test_a_bad_frame_is_an_error_and_the_socket_stays_usable(site, sockets, cart_id, message):
    # given
    ws, _ = await sockets.widget(site, "visitor-1")

    # when
    refused = await start(ws, cart_id=cart_id)

    # then
    assert refused == {
        "type": "error",
        "code": "invalid_frame",
        "message": message,
        "field": "cart_id",
        "ref": "chat.start",
    }
    assert await db(Conversation.objects.count)() == 0
    opened = await start(ws)
    assert opened["type"] == "conversation"


async def test_a_visitor_token_reaches_only_its_own_conversation(site, sockets):
    # given: visitor-1 started a chat
    ws_one, _ = await sockets.widget(site, "visitor-1")
    mine = (await start(ws_one))["conversation"]
    ws_two, hello = await sockets.widget(site, "visitor-2")

    # when: visitor-2 reaches for it, then starts its own
    await ws_two.send_json_to({"type": "sync", "conversation_id": mine["id"], "after_seq": 0})
    sync_refused = await ws_two.receive_json_from(timeout=FRAME_TIMEOUT)
    await ws_two.send_json_to(
        {
            "type": "message.send",
            "conversation_id": mine["id"],
            "client_message_id": "x-1",
            "text": "hello?",
        }
    )
    send_refused = await ws_two.receive_json_from(timeout=FRAME_TIMEOUT)
    theirs = (await start(ws_two))["conversation"]

    # then
    assert hello["conversations"] == []
    assert (sync_refused["code"], send_refused["code"]) == ("not_found", "not_found")
    assert theirs["id"] != mine["id"]
    stored = await db(lambda: dict(Conversation.objects.values_list("pk", "visitor_id")))()
    assert stored == {mine["id"]: "visitor-1", theirs["id"]: "visitor-2"}
    assert await db(Message.objects.filter(conversation_id=mine["id"]).count)() == 0
