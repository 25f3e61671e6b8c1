"""The console hears about the cart live: ingested events (the order), grants; a
converted cart offers nothing; the header knows who the shopper is (issue 12)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from agents.selectors import cart_panel
from cartassist.carts.services.ingest import cart_events_ingest
from cartassist.flows.console import console_remedies
from cartassist.models import Cart, CartStatus, EventSource
from policies.services.offers import OfferRefused, offer_accept, offer_authorize
from tests.fixtures.agents import (
    console_receive,
    make_agent,
    make_conversation,
    make_intervention,
    make_stalled_cart,
)
from tests.fixtures.policies import make_chat, make_policy


def _event(cart: Cart, event_type: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": f"evt-{event_type}-{cart.pk}-{len(extra)}",
        "type": event_type,
        "occurred_at": timezone.now() - timedelta(seconds=1),
        "cart_id": cart.external_id,
        "visitor_id": cart.visitor_id,
        "data": data,
        **extra,
    }


def _order(cart: Cart) -> dict[str, Any]:
    return _event(
        cart, "order_completed", {"order_id": "ORD-7", "currency": "EUR", "total": "74.90"}
    )


def _ingest(cart: Cart, *events: dict[str, Any], source: str = EventSource.SERVER) -> None:
    cart_events_ingest(site=cart.site, events=list(events), source=source, now=timezone.now())


@pytest.mark.django_db(transaction=True)
async def test_the_console_receives_the_order_of_its_chats_cart_live(site, sockets):
    # given: Ada chats with the shopper of a stalled cart
    ada = await database_sync_to_async(make_agent)(site, name="Ada")
    cart = await database_sync_to_async(make_stalled_cart)(site)
    conversation = await database_sync_to_async(make_conversation)(site, agent=ada, cart=cart)
    ws, _hello = await sockets.console(ada)

    # when: the shop reports the order
    await database_sync_to_async(_ingest)(cart, _order(cart))

    # then: the console gets the converted cart, naming its chat
    frame = await console_receive(ws)
    assert frame["type"] == "cart"
    assert frame["conversation_ids"] == [conversation.pk]
    assert frame["cart"]["id"] == cart.pk
    assert (frame["cart"]["status"], frame["cart"]["order_id"]) == ("converted", "ORD-7")
    assert frame["cart"]["order_total"] == "74.900"


@pytest.mark.django_db(transaction=True)
async def test_another_agents_console_hears_nothing_of_the_cart(site, sockets):
    # given: the chat is Ada's; Bob (not a supervisor) is online too
    ada = await database_sync_to_async(make_agent)(site, name="Ada")
    bob = await database_sync_to_async(make_agent)(site, name="Bob")
    cart = await database_sync_to_async(make_stalled_cart)(site)
    await database_sync_to_async(make_conversation)(site, agent=ada, cart=cart)
    bob_ws, _ = await sockets.console(bob)
    ada_ws, _ = await sockets.console(ada)

    # when
    await database_sync_to_async(_ingest)(cart, _order(cart))

    # then: Ada's console gets the frame; Bob's gets nothing about it
    assert (await console_receive(ada_ws))["type"] == "cart"
    bob_frames = []
    while not await bob_ws.receive_nothing(timeout=0.2):
        bob_frames.append((await bob_ws.receive_json_from())["type"])
    assert "cart" not in bob_frames


@pytest.mark.django_db
def test_ingesting_events_for_a_cart_without_an_open_chat_publishes_nothing(
    site, capture_published
):
    cart = make_stalled_cart(site)
    with capture_published() as published:
        _ingest(cart, _order(cart))
    assert published.of_type("cart.updated") == []


@pytest.mark.django_db
def test_a_converted_cart_offers_no_remedies_and_says_why(site):
    # given: the shopper of a chat placed the order
    ada = make_agent(site, name="Ada")
    cart = make_stalled_cart(site)
    make_intervention(cart)
    conversation = make_conversation(site, agent=ada, cart=cart)
    _ingest(cart, _order(cart))

    # when
    panel = console_remedies(agent=ada, conversation_id=conversation.pk, now=timezone.now())

    # then
    assert panel["remedies"] == []
    assert panel["unavailable"] == {
        "code": "order_placed",
        "message": "The shopper placed order ORD-7: there is nothing to offer.",
    }


@pytest.mark.django_db
def test_an_offer_on_a_converted_cart_is_refused(site):
    ada = make_agent(site, name="Ada")
    cart = make_stalled_cart(site)
    make_intervention(cart)
    conversation = make_conversation(site, agent=ada, cart=cart)
    _ingest(cart, _order(cart))

    with pytest.raises(OfferRefused) as refused:
        offer_authorize(
            agent=ada,
            conversation_id=conversation.pk,
            kind="waive_delivery",
            amount=None,
            now=timezone.now(),
        )
    assert refused.value.code == "order_placed"


@pytest.mark.django_db
def test_signed_events_name_the_shopper_and_keep_the_email_masked(site):
    # given
    cart = make_stalled_cart(site)

    # when: the shop's backend names the customer
    _ingest(
        cart,
        _event(
            cart,
            "checkout_step",
            {"step": "payment"},
            customer_name="  Mara   Lindqvist ",
            email="mara.lindqvist@example.com",
        ),
    )

    # then: the name is kept, the email only masked
    cart.refresh_from_db()
    assert (cart.customer_name, cart.customer_email_hint) == (
        "Mara Lindqvist",
        "m•••@example.com",
    )
    assert "mara.lindqvist" not in str(Cart.objects.filter(pk=cart.pk).values().get())
    shopper = cart_panel(cart=cart)["shopper"]
    assert (shopper["name"], shopper["email_hint"]) == ("Mara Lindqvist", "m•••@example.com")


@pytest.mark.django_db
def test_the_panel_tells_a_returning_shopper_with_earlier_orders_and_outreach(site):
    # given: the same visitor ordered once and was invited once before
    earlier = make_stalled_cart(site, visitor_id="visitor-9")
    make_intervention(earlier)
    Cart.objects.filter(pk=earlier.pk).update(status=CartStatus.CONVERTED, order_id="ORD-1")
    cart = make_stalled_cart(site, visitor_id="visitor-9")
    make_intervention(cart)
    _ingest(cart, _event(cart, "checkout_step", {"step": "payment"}))
    _ingest(earlier, _event(earlier, "checkout_step", {"step": "payment"}))

    # when
    shopper = cart_panel(cart=cart)["shopper"]

    # then
    assert shopper["returning"] is True
    assert (shopper["earlier_carts"], shopper["earlier_orders"]) == (1, 1)
    assert shopper["earlier_invitations"] == 1
    assert (shopper["name"], shopper["visitor_short_id"]) == ("", "ITOR-9")


@pytest.mark.django_db
def test_a_first_time_guest_is_new(site):
    cart = make_stalled_cart(site, visitor_id="v-abcdef123")
    shopper = cart_panel(cart=cart)["shopper"]
    assert shopper["returning"] is False
    assert (shopper["earlier_carts"], shopper["earlier_orders"]) == (0, 0)
    assert shopper["visitor_short_id"] == "DEF123"


@pytest.mark.django_db
def test_the_panel_explains_the_urgency_score(site):
    # given: 14.90 delivery on 60.00 at the shipping step
    cart = make_stalled_cart(site)
    make_intervention(cart)

    # when
    urgency = cart_panel(cart=cart)["urgency"]

    # then: reason 35 + stage 20 + value 13 = the recorded score
    assert (
        urgency["reason_points"] + urgency["stage_points"] + urgency["value_points"]
        == (urgency["score"])
    )
    assert (urgency["reason_points"], urgency["stage_points"]) == (35, 20)
    assert Decimal(urgency["cart_value"]) == Decimal("60")


@pytest.mark.django_db
def test_an_accepted_offer_tells_the_consoles_of_its_grant_without_the_token(
    site, capture_published
):
    # given: the agent offered to waive the delivery charge
    make_policy(site, reduce_delivery=True, reduce_delivery_max_percent=Decimal("50"))
    chat = make_chat(site)
    offer = offer_authorize(
        agent=chat.agent,
        conversation_id=chat.conversation.pk,
        kind="waive_delivery",
        amount="9.90",
        now=timezone.now(),
    )

    # when: the shopper accepts
    with capture_published() as published:
        offer_accept(site_id=site.pk, visitor_id="visitor-1", offer_id=offer.pk, now=timezone.now())

    # then: the consoles hear of the grant, with no token
    (event,) = published.of_type("grant.updated")
    assert event.group == f"console.site.{site.pk}"
    grant = event.payload["grant"]
    assert (grant["conversation_id"], grant["kind"], grant["amount"]) == (
        chat.conversation.pk,
        "waive_delivery",
        "9.90",
    )
    assert grant["redeemed_at"] is None
    assert "token" not in grant
    # and the waived delivery charge is not offered again as a reduction
    panel = console_remedies(
        agent=chat.agent, conversation_id=chat.conversation.pk, now=timezone.now()
    )
    reduce = next(r for r in panel["remedies"] if r["kind"] == "reduce_delivery")
    assert (reduce["allowed"], reduce["reason_code"]) == (False, "delivery_waived")


@pytest.mark.django_db(transaction=True)
async def test_a_supervisors_console_hears_of_a_chat_another_agent_takes(site, sockets):
    # given: Sam supervises (no seat of his own to take chats); Ada is online; a chat
    # waits in the queue
    sam = await database_sync_to_async(make_agent)(site, name="Sam", supervisor=True, capacity=0)
    ada = await database_sync_to_async(make_agent)(site, name="Ada")
    conversation = await database_sync_to_async(make_conversation)(site)
    sam_ws, _ = await sockets.console(sam)
    ada_ws, _ = await sockets.console(ada)

    # when: Ada claims it
    await ada_ws.send_json_to({"type": "queue.claim", "conversation_id": conversation.pk})

    # then: Sam's console gets the chat, with its agent (the Team list), live
    frame = await console_receive(sam_ws)
    while frame["type"] != "conversation" or frame["conversation"]["status"] != "active":
        frame = await console_receive(sam_ws)
    assert (frame["conversation"]["id"], frame["conversation"]["agent_name"]) == (
        conversation.pk,
        "Ada",
    )
