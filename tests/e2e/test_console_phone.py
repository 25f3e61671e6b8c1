"""Issue 12 at phone size (390×844): the agent answers from a phone while the shopper is
on one too. The console still puts the cart first, follows the order live and offers
nothing once the cart converted; the widget never stops the shopper from reaching the
shop's buttons (Playwright refuses a click that the widget would intercept).

Its own module, so that it gets its own server (``chat_server`` is per module) and the
demo agent's seats are all free.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.journeys import console_online, expect, shop_until_delivery_step
from tests.e2e.widget_harness import assert_reachable

pytestmark = [pytest.mark.browser]

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


@pytest.fixture
def two_phones(browser: Any) -> Iterator[tuple[Any, Any]]:
    agent = browser.new_context(**PHONE)
    shopper = browser.new_context(**PHONE)
    for context in (agent, shopper):
        context.set_default_timeout(15_000)
    yield agent, shopper
    shopper.close()
    agent.close()


def test_on_phones_the_console_follows_the_order_live_and_offers_nothing_after_it(
    chat_server: Any, two_phones: tuple[Any, Any]
) -> None:
    agent_context, shopper_context = two_phones
    base = chat_server.url
    console = console_online(agent_context, base)
    shop = shopper_context.new_page()

    # given: the shopper balks at the delivery charge on a phone, is invited and accepts
    shop_until_delivery_step(shop, base)
    invitation = shop.get_by_test_id("chat-invitation")
    expect(invitation).to_be_visible()
    # the compact invitation leaves the total and the button to go on reachable
    assert_reachable(shop, "[data-testid=delivery-fee]")
    invitation.get_by_role("button", name="Accept").click()
    expect(shop.get_by_test_id("chat-status")).to_contain_text("chatting")

    # when: the agent opens the chat on their phone
    item = console.locator("#chat-list .chat-item")
    expect(item).to_have_count(1)
    item.click()
    # then: the shopper's cart comes first, its totals in the agent's format, and the
    # waiver is on offer
    expect(console.locator("#cart-panel .totals")).to_contain_text("Subtotal€38.50")
    waive = console.locator('#remedies .remedy.allowed[data-kind="waive_delivery"]')
    expect(waive.locator(".remedy-bound")).to_have_text("Up to €9.90")
    above = console.evaluate(
        "() => document.getElementById('cart-panel').compareDocumentPosition("
        "document.getElementById('remedies')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    assert above

    # when: the shopper completes the order with the chat open
    shop.get_by_label("Street and number").fill("Hauptstr. 1")
    shop.get_by_label("Postcode").fill("10115")
    shop.get_by_label("City").fill("Berlin")
    shop.get_by_role("button", name="Continue to payment").click()
    shop.get_by_test_id("pay").click()
    order_id = shop.get_by_test_id("order-id").text_content()

    # then: without a refresh, the agent's phone shows the order and offers nothing
    expect(console.get_by_test_id("order-banner")).to_contain_text(f"Order {order_id} placed")
    expect(console.get_by_test_id("nothing-to-offer")).to_have_text(
        "Order placed — nothing to offer"
    )
    expect(console.locator("#remedies .remedy")).to_have_count(0)
