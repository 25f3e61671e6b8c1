"""What the two browser journeys (chat, offer) share: two browsers, the agent online in
the console, a shopper at the delivery step of the demo shop."""

from __future__ import annotations

from typing import Any

from cartassist.demo.seed import AGENT_DISPLAY_NAME, AGENT_LOGIN

# The agent as shoppers see them in the widget: the first word of the display name
# ("Alex from Demo Storefront" → "Alex"; docs/REALTIME.md, frames' `agent.first_name`).
AGENT_NAME = AGENT_DISPLAY_NAME.format(site="Demo Storefront").split()[0]

RECORD_EVENTS = """
window.__cartassistEvents = [];
["invitation-shown", "invitation-accepted", "invitation-dismissed", "chat-closed",
 "offer-shown", "offer-accepted", "offer-declined", "grant"].forEach(function (name) {
  window.addEventListener("cartassist:" + name, function (event) {
    window.__cartassistEvents.push([name, event.detail]);
  });
});
"""


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def console_online(context: Any, base_url: str) -> Any:
    page = context.new_page()
    page.goto(base_url + "/console/")
    page.get_by_label("Username").fill(AGENT_LOGIN[0])
    page.get_by_label("Password").fill(AGENT_LOGIN[1])
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    return page


def shop_until_delivery_step(page: Any, base_url: str) -> None:
    """Two small items (38.50 EUR), contact details, then the delivery step (9.90 EUR)."""
    page.goto(base_url + "/demo/")
    for count, sku in enumerate(["MUG-ENAMEL", "CANDLE-FIG"], start=1):
        page.get_by_test_id(f"product-{sku}").get_by_role("button", name="Add to cart").click()
        expect(page.get_by_test_id("cart-count")).to_have_text(str(count))
        # The count is server-rendered: wait until the new page's scripts have run too, or
        # the next click posts the form without the shop's script, whose listed events
        # then sit in the stub's memory when the test leaves the page at once.
        page.wait_for_load_state("load")
    page.get_by_test_id("cart-link").click()
    page.get_by_role("link", name="Checkout").click()
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_role("button", name="Continue to delivery").click()
    expect(page.get_by_test_id("delivery-fee")).to_have_text("€9.90")


def shopper_events(page: Any) -> list[str]:
    return [name for name, _ in page.evaluate("window.__cartassistEvents")]
