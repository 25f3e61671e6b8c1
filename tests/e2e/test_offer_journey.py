"""Issue 4's journey in two browsers, continuing issue 3's: the shopper balked at a high
delivery charge, the agent sees what they may offer, an over-limit offer is refused, the
waiver is offered and accepted, and the demo shop applies and redeems the grant.

Runs against the real ASGI server (daphne, ``chat_server`` in conftest.py) seeded by
`manage.py demo` (policy "Free delivery rescue": waive up to 10.00 EUR, reduce up to 50 %,
approval above 15.00 EUR, for shipping shock on carts from 30.00 EUR).
"""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e.journeys import (
    AGENT_NAME,
    console_online,
    expect,
    shop_until_delivery_step,
)

pytestmark = [pytest.mark.browser]


def test_agent_waives_the_delivery_charge_and_the_shop_completes_the_order_with_it(
    chat_server, two_contexts
):
    agent_context, shopper_context = two_contexts
    base = chat_server.url
    console = console_online(agent_context, base)
    shop = shopper_context.new_page()

    # given: the shopper balks at 9.90 EUR delivery on 38.50 EUR, is invited and accepts
    shop_until_delivery_step(shop, base)
    expect(shop.get_by_test_id("total")).to_have_text("€48.40")
    invitation = shop.get_by_test_id("chat-invitation")
    expect(invitation).to_be_visible()
    invitation.get_by_role("button", name="Accept").click()
    expect(shop.get_by_test_id("chat-status")).to_have_text(f"You're chatting with {AGENT_NAME}")
    cart_id = shop.evaluate("document.body.dataset.cartId")

    # when: the agent opens the chat
    expect(console.locator("#chat-list .chat-item")).to_have_count(1)
    console.locator("#chat-list .chat-item").click()

    # then: waiving the delivery charge is allowed up to 9.90 EUR, by the demo policy
    waive = console.locator('#remedies .remedy.allowed[data-kind="waive_delivery"]')
    expect(waive.locator(".remedy-label")).to_have_text("Waive the delivery charge")
    expect(waive.locator(".remedy-bound")).to_have_text("Up to €9.90")
    expect(waive.locator(".remedy-policy")).to_have_text(
        "Policy “Free delivery rescue” · needs approval above €15.00"
    )
    expect(waive.get_by_role("textbox")).to_have_value("9.90")
    reduce = console.locator('#remedies .remedy.allowed[data-kind="reduce_delivery"]')
    expect(reduce.locator(".remedy-bound")).to_have_text("Up to €4.95")
    # and what the policy does not allow is shown greyed, with the reason
    expect(console.locator('#remedies .remedy.not-allowed[data-kind="discount"]')).to_be_visible()

    # when: the agent tries to reduce the charge by more than the policy allows
    reduce.get_by_role("textbox").fill("6.00")
    reduce.get_by_role("button", name="Offer").click()
    # then: the server refuses with the reason, shown by the panel; no offer exists
    expect(console.get_by_test_id("remedies-error")).to_have_text(
        "6.00 EUR is above the 4.95 EUR that policy “Free delivery rescue” allows here."
    )
    assert chat_server.rows("SELECT count(*) FROM policies_offer") == [(0,)]

    # when: the agent offers the waiver with one click (the amount is prefilled)
    waive.get_by_role("button", name="Offer").click()

    # then: the shopper sees the offer card with the exact totals before and after
    card = shop.get_by_test_id("chat-offer")
    expect(card.get_by_test_id("offer-totals")).to_have_text("Total before: €48.40 → now: €38.50")
    expect(console.locator("#remedies .offer .offer-status")).to_have_text(
        ["Offered — waiting for the shopper"]
    )
    expect(console.get_by_test_id("remedies-error")).to_be_hidden()

    # when: the shopper accepts
    card.get_by_role("button", name="Accept offer").click()

    # then: the widget hands the grant to the page; the shop verifies it and shows it
    expect(shop.get_by_test_id("grant-note")).to_have_text(
        "Delivery charge waived by our agent: it is included in your total."
    )
    expect(shop.get_by_test_id("grant-reduction")).to_have_text("−€9.90")
    expect(shop.get_by_test_id("total")).to_have_text("€38.50")
    grants = [
        detail for name, detail in shop.evaluate("window.__cartassistEvents") if name == "grant"
    ]
    assert [(g["kind"], g["cart_id"]) for g in grants] == [("waive_delivery", cart_id)]
    expect(console.locator("#remedies .offer .offer-status")).to_have_text(
        ["Accepted by the shopper"]
    )

    # when: the shopper completes delivery details and pays
    shop.get_by_label("Street and number").fill("Hauptstr. 1")
    shop.get_by_label("Postcode").fill("10115")
    shop.get_by_label("City").fill("Berlin")
    shop.get_by_role("button", name="Continue to payment").click()
    expect(shop.get_by_test_id("total")).to_have_text("€38.50")
    shop.get_by_test_id("pay").click()

    # then: the order completes with the reduced total
    expect(shop.get_by_test_id("order-total")).to_have_text("€38.50")
    expect(shop.get_by_test_id("grant-note")).to_have_text(
        "Delivery charge waived by our agent: you saved €9.90."
    )
    order_id = shop.get_by_test_id("order-id").text_content()
    shop.wait_for_load_state("load")
    shop.wait_for_function("() => window.CartAssist.__loaded && CartAssist.pending() === 0")
    # and the grant was redeemed for that order, once
    assert chat_server.rows(
        "SELECT g.kind, g.amount, g.order_id, g.idempotency_key, g.redeemed_at IS NOT NULL "
        "FROM policies_grant g"
    ) == [("waive_delivery", 9.9, order_id, order_id, 1)]
    assert chat_server.rows("SELECT status FROM policies_offer") == [("accepted",)]
    completed = chat_server.rows(
        "SELECT e.data FROM cartassist_cartevent e JOIN cartassist_cart c ON c.id = e.cart_id "
        "WHERE e.type = 'order_completed' AND c.external_id = ?",
        cart_id,
    )
    assert [json.loads(data) for (data,) in completed] == [
        {"order_id": order_id, "currency": "EUR", "total": "38.50"}
    ]
    assert re.fullmatch(r"DEMO-[0-9A-F]{8}", order_id)
