"""Issue 3's journey in two browsers: a stalled shopper is invited, accepts, and chats
with an agent in the console; the conversation follows the shopper to another page.

Everything runs against a real ASGI server (daphne, `chat_server`) with the stall sweep
in-process, exactly as `manage.py demo` runs; the test only drives the two browsers and
reads the server's database file.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.journeys import (
    AGENT_NAME,
    console_online,
    expect,
    shop_until_delivery_step,
    shopper_events,
)

pytestmark = [pytest.mark.browser]

# The invitation, the chat's first message, as a widget that shows it as text shows it
# (headline, blank line, body; whitespace is normalised when compared).
INVITATION_TEXT = re.compile(
    r"^Questions about the delivery charge\?\s+\w+ can look at the delivery options"
)


def test_stalled_shopper_is_invited_chats_with_the_agent_and_keeps_the_chat_across_pages(
    chat_server, two_contexts
):
    agent_context, shopper_context = two_contexts
    base = chat_server.url
    # given: the agent is online in the console before anyone stalls
    console = console_online(agent_context, base)
    shop = shopper_context.new_page()

    # when: the shopper reaches the delivery step (a high charge) and idles there
    shop_until_delivery_step(shop, base)

    # then: the sweep invites them; the card names the issue and the agent, with a code
    invitation = shop.get_by_test_id("chat-invitation")
    expect(invitation).to_be_visible()
    expect(invitation.get_by_role("heading")).to_have_text("Questions about the delivery charge?")
    expect(invitation.get_by_test_id("chat-agent")).to_have_text(f"{AGENT_NAME} will answer.")
    verify = invitation.get_by_test_id("chat-verify")
    expect(verify).to_have_text(re.compile(r"^Verify this invitation: [A-Z0-9]{8}$"))
    code = verify.locator(".code").text_content()
    visitor_id = shop.evaluate("JSON.parse(localStorage.getItem('cartassist:v1:visitor'))")
    cart_id = shop.evaluate("document.body.dataset.cartId")
    rows = chat_server.rows(
        "SELECT i.stall_reason, i.visitor_id, c.external_id FROM agents_invitation i "
        "JOIN cartassist_cart c ON c.id = i.cart_id WHERE i.verification_code = ?",
        code,
    )
    assert rows == [("shipping_shock", visitor_id, cart_id)]
    assert verify.get_attribute("href") == f"{base}/verify/{code}"
    expect(invitation).to_be_focused()

    # when: the shopper accepts
    invitation.get_by_role("button", name="Accept").click()
    # then: the chat opens with the agent; the agent's console shows it and the cart
    expect(shop.get_by_test_id("chat-status")).to_have_text(f"You're chatting with {AGENT_NAME}")
    expect(console.locator("#chat-list .chat-item")).to_have_count(1)
    console.locator("#chat-list .chat-item").click()
    totals = console.locator("#cart-panel .totals")
    expect(totals).to_contain_text("Subtotal€38.50")
    expect(totals).to_contain_text("€9.90")
    assert shopper_events(shop) == ["invitation-shown", "invitation-accepted"]

    # when: the agent replies, and the shopper answers
    console.locator("#composer-text").fill("Hi Ada, I can help with the delivery charge.")
    console.locator("#send-button").click()
    messages = shop.get_by_test_id("chat-messages")
    # the invitation is the chat's first message (seq 1), then the agent's reply
    expect(messages.locator(".msg.agent .text")).to_have_text(
        [INVITATION_TEXT, "Hi Ada, I can help with the delivery charge."]
    )
    composer = shop.get_by_role("textbox", name="Message")
    composer.fill("Is there a cheaper option? <b>not bold</b>")
    composer.press("Enter")
    expect(console.locator("#messages .msg-visitor .msg-text")).to_have_text(
        ["Is there a cheaper option? <b>not bold</b>"]
    )
    # then: both sides show text as text, never as markup
    expect(messages.locator(".msg.visitor .text")).to_have_text(
        ["Is there a cheaper option? <b>not bold</b>"]
    )
    assert messages.locator("b").count() == 0

    # when: the shopper goes to another page of the shop
    shop.get_by_role("link", name="Shop").first.click()
    shop.wait_for_url(base + "/demo/")
    # then: the conversation is still there, with its history
    messages = shop.get_by_test_id("chat-messages")
    expect(messages.locator(".msg .text")).to_have_text(
        [
            INVITATION_TEXT,
            "Hi Ada, I can help with the delivery charge.",
            "Is there a cheaper option? <b>not bold</b>",
        ]
    )
    expect(shop.get_by_test_id("chat-status")).to_have_text(f"You're chatting with {AGENT_NAME}")

    # when: the shopper writes from the new page
    composer = shop.get_by_role("textbox", name="Message")
    composer.fill("Thanks, I'll keep shopping meanwhile.")
    shop.get_by_role("button", name="Send").click()
    # then: the agent sees it after the earlier message, exactly once
    expect(console.locator("#messages .msg-visitor .msg-text")).to_have_text(
        ["Is there a cheaper option? <b>not bold</b>", "Thanks, I'll keep shopping meanwhile."]
    )

    # when: a page without the tab's cached messages (a fresh tab state) loads
    shop.evaluate(
        """() => Object.keys(sessionStorage)
              .filter((k) => /:(messages|last_seq)$/.test(k))
              .forEach((k) => sessionStorage.removeItem(k))"""
    )
    shop.goto(base + "/demo/cart/")
    # then: the widget syncs the whole history from the server
    expect(shop.get_by_test_id("chat-messages").locator(".msg .text")).to_have_text(
        [
            INVITATION_TEXT,
            "Hi Ada, I can help with the delivery charge.",
            "Is there a cheaper option? <b>not bold</b>",
            "Thanks, I'll keep shopping meanwhile.",
        ]
    )
    stored = chat_server.rows(
        "SELECT m.seq, m.sender, m.kind, m.text FROM agents_message m ORDER BY m.seq"
    )
    assert stored[0][:3] == (1, "agent", "invitation")
    assert [(sender, text) for _, sender, kind, text in stored if kind == "text"] == [
        ("agent", "Hi Ada, I can help with the delivery charge."),
        ("visitor", "Is there a cheaper option? <b>not bold</b>"),
        ("visitor", "Thanks, I'll keep shopping meanwhile."),
    ]
