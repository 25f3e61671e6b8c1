"""The widget's accessibility on the demo storefront (WCAG 2.2 AA, issue 12): axe-core with
the widget open (invitation and chat) at desktop and phone sizes, a keyboard-only journey
(Tab to the launcher, Enter, focus inside, visible focus, Esc back to the launcher, the
invitation's buttons), target sizes, and the connection state while offline.

The demo shop, its session API and the widget's files come from the live server; the chat
socket is the stand-in of test_chat_widget.py, so the test decides which frames arrive.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from agents.models import AgentProfile, AgentStatus
from cartassist.demo.seed import demo_seed
from cartassist.models import Site
from tests.e2e.a11y import assert_no_blocking_violations, focused_element
from tests.e2e.test_chat_widget import FAKE_SOCKET
from tests.e2e.widget_harness import (
    CONVERSATION,
    INVITATION,
    INVITATION_MESSAGE,
    OFFER,
    SIZES,
    agent_message,
    hello,
    push,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


@pytest.fixture
def demo_site(shop_server: Any) -> Site:
    seed = demo_seed(origins=[shop_server.url])
    site = seed.site
    site.holdout_share = Decimal("0")
    site.display_name = "Maple & Thread"
    site.brand_colour = "#2f5d50"
    site.save()
    AgentProfile.objects.filter(user=seed.agent).update(
        status=AgentStatus.ONLINE, last_heartbeat_at=timezone.now() + timedelta(hours=1)
    )
    return site


def shop_page(browser: Any, base: str, size: str) -> Any:
    """The demo shop with one item in the cart (so the chat connects), at this size."""
    context = browser.new_context(**SIZES[size])
    context.set_default_timeout(10_000)
    context.add_init_script(FAKE_SOCKET)
    page = context.new_page()
    page.goto(base + "/demo/")
    page.get_by_test_id("product-MUG-ENAMEL").get_by_role("button", name="Add to cart").click()
    expect(page.get_by_test_id("cart-count")).to_have_text("1")
    page.wait_for_load_state("load")
    page.wait_for_function(
        "() => window.__sockets.length >= 1 && window.__sockets.at(-1).readyState === 1"
    )
    page.wait_for_function("() => window.CartAssist.__loaded && CartAssist.pending() === 0")
    return page


def close(page: Any) -> None:
    """No events left to leave in a page-hide beacon while the database is flushed."""
    page.evaluate("() => { try { localStorage.clear(); } catch (e) {} }")
    page.context.close()


def axe(page: Any) -> None:
    """axe-core once the widget's entrance animation has finished (mid-fade, its text
    would be measured at part opacity)."""
    page.evaluate(
        """() => Promise.all(document.getElementById("cartassist-chat").shadowRoot
              .getAnimations().map((a) => a.finished))"""
    )
    assert_no_blocking_violations(page)


def sent(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate("window.__sent()"))


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_axe_finds_nothing_blocking_with_the_widget_open(shop_server, demo_site, browser, size):
    page = shop_page(browser, shop_server.url, size)
    try:
        # the launcher only
        expect(page.get_by_test_id("chat-start")).to_be_visible()
        axe(page)
        # an invitation
        push(page, hello(invitations=[INVITATION]))
        expect(page.get_by_test_id("chat-invitation")).to_be_visible()
        axe(page)
        # a chat with the invitation, grouped messages, an offer and an unsent message
        push(page, hello(conversations=[CONVERSATION]))
        page.wait_for_function("() => window.__sent().some(f => f.type === 'sync')")
        for message in [INVITATION_MESSAGE, agent_message(2, "Hello!", 1),
                        agent_message(3, "How can I help?", 2)]:  # fmt: skip
            push(page, {"type": "message", "conversation_id": 7, "message": message})
        push(page, {"type": "synced", "conversation_id": 7, "last_seq": 3})
        push(page, {"type": "offer", "offer": OFFER})
        expect(page.get_by_test_id("chat-offer")).to_be_visible()
        axe(page)
        # minimised
        page.get_by_test_id("chat-messages").press("Escape")
        expect(page.get_by_test_id("chat-launcher")).to_be_visible()
        axe(page)
    finally:
        close(page)


FOCUS_RING = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  const style = getComputedStyle(el);
  return {style: style.outlineStyle, width: parseFloat(style.outlineWidth)};
}"""


def tab_until(page: Any, name: str, limit: int = 80) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused_element(page)["name"] == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_keyboard_only_the_launcher_opens_the_chat_and_escape_returns_to_it(
    shop_server, demo_site, browser
):
    page = shop_page(browser, shop_server.url, "desktop")
    try:
        # when: Tab through the shop's page until the launcher, Enter
        tab_until(page, "Chat with us")
        assert page.evaluate(FOCUS_RING) == {"style": "solid", "width": 3}
        page.keyboard.press("Enter")
        # then: the chat starts and the focus is inside the panel
        expect(page.get_by_test_id("chat-panel")).to_be_visible()
        page.wait_for_function("() => window.__sent().some(f => f.type === 'chat.start')")
        assert focused_element(page)["name"] == "Minimise chat"
        push(page, {"type": "conversation", "conversation": CONVERSATION})
        push(page, {"type": "synced", "conversation_id": 7, "last_seq": 0})
        composer = page.get_by_role("textbox", name="Message")
        expect(composer).to_be_focused()
        # and the focus order: back from the composer through the messages to the header
        names = []
        for _ in range(4):
            page.keyboard.press("Shift+Tab")
            names.append(focused_element(page)["name"])
        assert names[:3] == ["Messages", "End chat", "Minimise chat"]
        for _ in range(4):
            page.keyboard.press("Tab")
        expect(composer).to_be_focused()
        page.keyboard.press("Tab")
        assert focused_element(page) | {"visibleFocus": None} == {
            "tag": "button", "id": "", "name": "Send", "visibleFocus": None}  # fmt: skip
        assert page.evaluate(FOCUS_RING)["width"] >= 2
        # when: Esc
        page.keyboard.press("Escape")
        # then: the panel closes and the launcher has the focus; Enter opens it again
        expect(page.get_by_test_id("chat-panel")).to_be_hidden()
        launcher = page.get_by_role("button", name="Open chat")
        expect(launcher).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("chat-panel")).to_be_visible()
        expect(composer).to_be_focused()
    finally:
        close(page)


@pytest.mark.parametrize("answer", ["Accept", "Not now"])
def test_keyboard_only_the_invitation_is_answered(shop_server, demo_site, browser, answer):
    page = shop_page(browser, shop_server.url, "desktop")
    try:
        push(page, hello(invitations=[INVITATION]))
        card = page.get_by_test_id("chat-invitation")
        expect(card).to_be_focused()
        # Tab: the verification link, then the two buttons
        page.keyboard.press("Tab")
        assert focused_element(page)["name"] == "Verify this invitation: K7QH3MZP"
        tab_until(page, answer, limit=3)
        page.keyboard.press("Enter")
        kind = "invitation.accept" if answer == "Accept" else "invitation.dismiss"
        page.wait_for_function(f"() => window.__sent().some(f => f.type === '{kind}')")
        expect(card).to_be_hidden()
    finally:
        close(page)


TARGETS = """() => {
  const root = document.getElementById("cartassist-chat").shadowRoot;
  return [...root.querySelectorAll("button, textarea, a:not(.verify a):not(.invite a)")]
    .filter((n) => n.getClientRects().length)
    .map((n) => {
      const r = n.getBoundingClientRect();
      return {name: (n.getAttribute("aria-label") || n.textContent).trim(),
              width: r.width, height: r.height};
    });
}"""


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_target_is_at_least_24_by_24_css_pixels(shop_server, demo_site, browser, size):
    page = shop_page(browser, shop_server.url, size)
    try:
        expect(page.get_by_test_id("chat-start")).to_be_visible()
        seen = page.evaluate(TARGETS)
        push(page, hello(invitations=[INVITATION]))
        expect(page.get_by_test_id("chat-invitation")).to_be_visible()
        seen += page.evaluate(TARGETS)
        push(page, hello(conversations=[CONVERSATION], offers=[OFFER]))
        expect(page.get_by_test_id("chat-offer")).to_be_visible()
        page.evaluate(
            "() => window.__sockets.at(-1).push({type: 'error', code: 'too_long', ref: 'x'})"
        )
        seen += page.evaluate(TARGETS)
        names = {target["name"] for target in seen}
        assert {"Chat with us", "Accept", "Not now", "Accept offer", "Send"} <= names
        small = [t for t in seen if t["width"] < 24 or t["height"] < 24]
        assert small == []
    finally:
        close(page)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_offline_the_widget_says_so_and_holds_messages_until_back(
    shop_server, demo_site, browser, size
):
    page = shop_page(browser, shop_server.url, size)
    try:
        push(page, hello(conversations=[CONVERSATION]))
        page.wait_for_function("() => window.__sent().some(f => f.type === 'sync')")
        push(page, {"type": "synced", "conversation_id": 7, "last_seq": 0})
        notice = page.get_by_test_id("chat-connection")
        expect(notice).to_be_hidden()
        # when: the network goes away and the shopper writes
        page.context.set_offline(True)
        # then: a polite live notice, and the message waits visibly
        expect(notice).to_have_text("Offline — messages will be sent when you're back")
        expect(notice).to_have_attribute("aria-live", "polite")
        page.get_by_role("textbox", name="Message").fill("Are you there?")
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_test_id("chat-pending-state")).to_have_text("Not sent yet")
        # when: the socket drops too, and the network comes back
        page.evaluate("window.__sockets.at(-1).drop(1006)")
        page.context.set_offline(False)
        # then: the widget reconnects, syncs and sends the message with its id
        page.wait_for_function(
            "() => window.__sockets.length >= 2 && window.__sockets.at(-1).readyState === 1"
        )
        expect(notice).to_have_text("Connected")
        push(page, hello(conversations=[CONVERSATION]))
        push(page, {"type": "synced", "conversation_id": 7, "last_seq": 0})
        page.wait_for_function(
            "() => window.__sockets.at(-1).sent.some(f => f.type === 'message.send')"
        )
    finally:
        close(page)


def test_a_dropped_socket_shows_reconnecting(shop_server, demo_site, browser):
    page = shop_page(browser, shop_server.url, "desktop")
    try:
        push(page, hello(conversations=[CONVERSATION]))
        # when: the server goes away (the stand-in refuses new sockets)
        page.evaluate(
            """() => { const Real = window.WebSocket;
                window.WebSocket = function (url) { const s = new Real(url);
                  s.readyState = 0; setTimeout(() => s.drop(1006), 0); return s; };
                window.__sockets.at(-1).drop(1006); }"""
        )
        # then
        expect(page.get_by_test_id("chat-connection")).to_have_text("Reconnecting…")
    finally:
        close(page)
