"""Issue 5's shopper-started chat in two browsers: a shopper who was invited (and said
"Not now") opens a chat from the demo shop's launcher; the agent sees it labelled
"Started by the shopper", recognises it as a follow-up after that outreach, classifies
why the shopper came back, and replies.

Runs against the real ASGI server (`chat_server`), as test_chat_journey.py does.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.journeys import AGENT_NAME, console_online, expect, shop_until_delivery_step

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
    # given: the agent is online; the shopper stalled at the delivery step, was invited
    # and said "Not now"
    console = console_online(agent_context, base)
    shop = shopper_context.new_page()
    shop_until_delivery_step(shop, base)
    invitation = shop.get_by_test_id("chat-invitation")
    invitation.get_by_role("button", name="Not now").click()
    expect(invitation).to_be_hidden()

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
    follow_up = console.get_by_test_id("chat-follow-up")
    expect(follow_up.locator("#follow-up-text")).to_have_text(
        re.compile(
            r"^Follow-up after outreach on .+ about the delivery charge "
            r"— invitation dismissed, not converted\.$"
        )
    )

    # when: the agent says why the shopper came back
    follow_up.get_by_label("Why did they come back?").select_option("checking_genuine")

    # then: stored as the contact's reason
    expect(console.locator("#announcer")).to_have_text(
        "Follow-up reason saved: Checking the outreach was genuine."
    )
    assert chat_server.rows("SELECT source, reason FROM cartassist_followupcontact") == [
        ("chat", "checking_genuine")
    ]

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
