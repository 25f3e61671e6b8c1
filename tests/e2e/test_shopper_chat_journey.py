"""Issue 5's shopper-started chat in two browsers: the shopper opens a chat from the demo
shop's launcher, the agent sees it labelled "Started by the shopper" and replies.

Runs against the real ASGI server (`chat_server`), as test_chat_journey.py does.
"""

from __future__ import annotations

import pytest

from tests.e2e.journeys import AGENT_NAME, console_online, expect

pytestmark = [pytest.mark.browser]

RECORD_CHAT_STARTED = """
window.__chatStarted = [];
window.addEventListener("cartassist:chat-started", function (event) {
  window.__chatStarted.push(event.detail);
});
"""


def test_shopper_starts_a_chat_from_the_launcher_and_the_agent_answers(chat_server, two_contexts):
    agent_context, shopper_context = two_contexts
    base = chat_server.url
    shopper_context.add_init_script(RECORD_CHAT_STARTED)
    # given: the agent is online; the shopper has one item in the cart
    console = console_online(agent_context, base)
    shop = shopper_context.new_page()
    shop.goto(base + "/demo/")
    shop.get_by_test_id("product-MUG-ENAMEL").get_by_role("button", name="Add to cart").click()
    expect(shop.get_by_test_id("cart-count")).to_have_text("1")

    # when: the shopper clicks the launcher
    launcher = shop.get_by_role("button", name="Chat with us")
    expect(launcher).to_be_visible()
    launcher.click()

    # then: the chat opens with the agent, the launcher steps aside, the page is told
    expect(shop.get_by_test_id("chat-status")).to_have_text(f"You're chatting with {AGENT_NAME}")
    expect(launcher).to_be_hidden()
    composer = shop.get_by_role("textbox", name="Message")
    expect(composer).to_be_focused()
    started = shop.evaluate("window.__chatStarted")
    assert [(d["conversation"]["origin"], d["conversation"]["status"]) for d in started] == [
        ("shopper", "active")
    ]

    # when: the shopper writes
    composer.fill("Do you gift-wrap?")
    composer.press("Enter")

    # then: the agent's console shows the chat, started by the shopper, with the message
    expect(console.locator("#chat-list .chat-item")).to_have_count(1)
    console.locator("#chat-list .chat-item").click()
    expect(console.locator("#chat-meta")).to_contain_text("Started by the shopper")
    expect(console.locator("#messages .msg-visitor .msg-text")).to_have_text(["Do you gift-wrap?"])

    # when: the agent replies
    console.locator("#composer-text").fill("We do, free of charge.")
    console.locator("#send-button").click()

    # then: the shopper sees the reply
    messages = shop.get_by_test_id("chat-messages")
    expect(messages.locator(".msg.agent .text")).to_have_text(["We do, free of charge."])
    cart_id = shop.evaluate("document.body.dataset.cartId")
    rows = chat_server.rows(
        "SELECT v.invitation_id, c.external_id FROM agents_conversation v "
        "JOIN cartassist_cart c ON c.id = v.cart_id"
    )
    assert rows == [(None, cart_id)]
