"""Issue 12, the agent console in a browser: who the shopper is (from the shop's signed
event), urgency explained, the cart above the remedies, accessibility (axe-core with a
chat open, a keyboard-only pass), and the live update after the order: the order shows
and a converted cart offers nothing, without a refresh.

Runs against the real ASGI server (``chat_server``) seeded by `manage.py demo`.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cartassist.client import signed_headers
from tests.e2e.a11y import assert_no_blocking_violations, focused_element
from tests.e2e.journeys import console_online, expect, shop_until_delivery_step

pytestmark = [pytest.mark.browser]

# CARTASSIST_SCREENSHOTS=1 also writes docs/screenshots/console.png (as the widget's tests do).
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _signed_event(server: Any, event: dict[str, Any]) -> dict[str, Any]:
    """POST one event to /api/v1/server/events, signed as the demo shop's backend."""
    ((key, secret),) = server.rows(
        "SELECT public_key, secret FROM cartassist_site WHERE public_key = 'pk_demo_storefront'"
    )
    body = json.dumps({"events": [event]}).encode()
    request = urllib.request.Request(
        server.url + "/api/v1/server/events",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            **signed_headers(site_key=key, secret=secret, message=body),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def _tab_to(page: Any, selector: str, *, limit: int = 60) -> dict[str, Any]:
    """Press Tab until ``selector`` has the focus (bounded): the keyboard reaches it."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return focused_element(page)
    pytest.fail(f"Tab never reached {selector}")


def test_the_console_names_the_shopper_is_accessible_by_keyboard_and_updates_live_after_the_order(
    chat_server, two_contexts
):
    agent_context, shopper_context = two_contexts
    base = chat_server.url
    console = console_online(agent_context, base)
    shop = shopper_context.new_page()

    # given: the shopper balks at the delivery charge, is invited and accepts
    shop_until_delivery_step(shop, base)
    invitation = shop.get_by_test_id("chat-invitation")
    expect(invitation).to_be_visible()
    invitation.get_by_role("button", name="Accept").click()
    expect(shop.get_by_test_id("chat-status")).to_contain_text("chatting")
    cart_id = shop.evaluate("document.body.dataset.cartId")
    visitor_id = shop.evaluate("JSON.parse(localStorage.getItem('cartassist:v1:visitor'))")
    # and the shop's backend names its customer in a signed event (a minute old: it
    # changes nothing else about the cart)
    answer = _signed_event(
        chat_server,
        {
            "id": f"srv-{cart_id}",
            "type": "checkout_step",
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            "cart_id": cart_id,
            "visitor_id": visitor_id,
            "customer_name": "Ada Lovelace",
            "email": "Ada@Example.com",
            "data": {"step": "shipping"},
        },
    )
    assert answer["stored"] == [f"srv-{cart_id}"]

    # when: the agent selects the chat with the keyboard alone
    item = console.locator("#chat-list .chat-item")
    expect(item).to_have_count(1)
    focus = _tab_to(console, "#chat-list .chat-item")
    assert focus["visibleFocus"], focus
    console.keyboard.press("Enter")
    # then: the message box has the focus, ready to answer
    expect(console.locator("#composer-text")).to_be_focused()

    # then: the header names the shopper and the stall in plain words, the email masked
    expect(console.get_by_test_id("chat-title")).to_have_text(
        "Ada Lovelace · Put off by the delivery charge"
    )
    shopper = console.get_by_test_id("chat-shopper")
    expect(shopper).to_contain_text("a•••@example.com")
    expect(shopper.get_by_test_id("shopper-kind")).to_have_text("New shopper")
    expect(shopper.get_by_test_id("shopper-orders")).to_have_text("0 earlier orders")
    # the chat list shows the same name, and its button's name is its visible text
    expect(item.locator(".ci-title")).to_have_text("Ada Lovelace · Put off by the delivery charge")
    assert item.get_attribute("aria-label") is None
    # urgency is explained: its three parts
    urgency = console.get_by_test_id("urgency")
    urgency.locator("summary").click()
    expect(urgency.locator("li")).to_have_count(3)
    expect(urgency.locator("li").first).to_have_text(
        re.compile(r"^Put off by the delivery charge: 35 points \(of 40\)$")
    )
    # the cart's lines and totals come before the remedies; amounts in the agent's locale
    expect(console.locator("#cart-panel .totals")).to_contain_text("Subtotal€38.50")
    above = console.evaluate(
        "() => document.getElementById('cart-panel').compareDocumentPosition("
        "document.getElementById('remedies')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    assert above
    waive = console.locator('#remedies .remedy.allowed[data-kind="waive_delivery"]')
    expect(waive.locator(".remedy-bound")).to_have_text("Up to €9.90")
    # (white-space: nowrap; newer Chromium reports it as text-wrap-mode)
    wrap = waive.locator(".remedy-bound").evaluate(
        "n => { const s = getComputedStyle(n);"
        " return s.getPropertyValue('text-wrap-mode') || s.getPropertyValue('white-space'); }"
    )
    assert wrap == "nowrap"
    # and the invitation is the chat's first message, with its code
    first = console.locator("#messages li").first
    expect(first).to_have_attribute("data-kind", "invitation")
    expect(first.get_by_test_id("invitation-code")).to_have_text(
        re.compile(r"^Verification code: [A-Z0-9]{8}$")
    )

    # and axe-core finds nothing critical or serious with the chat open
    assert_no_blocking_violations(console)

    # when: the agent goes back to the message box (Alt+M), writes and sends by keyboard
    console.keyboard.press("Alt+M")
    assert focused_element(console)["id"] == "composer-text"
    console.keyboard.type("Hi Ada, I can help with the delivery charge.")
    console.keyboard.press("Control+Enter")
    expect(shop.get_by_test_id("chat-messages")).to_contain_text(
        "Hi Ada, I can help with the delivery charge."
    )
    if os.environ.get("CARTASSIST_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        console.screenshot(path=str(SCREENSHOTS / "console.png"))
    # and opens the transfer dialog by its shortcut, then leaves it with Esc
    console.keyboard.press("Alt+T")
    expect(console.locator("#transfer-dialog")).to_be_visible()
    console.keyboard.press("Escape")
    expect(console.locator("#transfer-dialog")).to_be_hidden()
    # then: the focus is back where it was
    assert focused_element(console)["id"] == "composer-text"

    # when: the shopper completes the order in the shop
    shop.get_by_label("Street and number").fill("Hauptstr. 1")
    shop.get_by_label("Postcode").fill("10115")
    shop.get_by_label("City").fill("Berlin")
    shop.get_by_role("button", name="Continue to payment").click()
    shop.get_by_test_id("pay").click()
    order_id = shop.get_by_test_id("order-id").text_content()

    # then: without a refresh, the console shows the order and offers nothing
    expect(console.get_by_test_id("order-banner")).to_contain_text(f"Order {order_id} placed")
    expect(console.get_by_test_id("nothing-to-offer")).to_have_text(
        "Order placed — nothing to offer"
    )
    expect(console.locator("#remedies .remedy")).to_have_count(0)
    expect(console.locator("#cart-panel .pill.status-converted")).to_have_text("converted")


def test_the_console_speaks_the_agents_language_with_its_own_clock(chat_server, browser):
    # given: an agent whose browser asks for German
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        console = console_online(context, chat_server.url)  # the login form is English here
        context.set_extra_http_headers({"Accept-Language": "de-DE,de;q=0.9"})

        # when
        console.goto(chat_server.url + "/console/")

        # then: the page and the browser code speak German
        expect(console.locator("html")).to_have_attribute("lang", "de")
        expect(console.locator("#connection-text")).to_have_text("Verbunden")
        expect(console.locator("#chats-heading")).to_contain_text("Meine Chats")
        expect(console.locator(".status-toggle")).to_contain_text("Abwesend")
        # money and times in the German locale: a 24-hour clock, a comma for cents
        formatted = console.evaluate(
            """async () => {
                const f = await import("/static/console/format.js");
                const now = new Date(2026, 10, 23, 18, 30);
                return [f.formatTime(new Date(2026, 10, 23, 18, 5).toISOString(), now),
                        f.money("9.9", "EUR")];
            }"""
        )
        assert formatted[0] == "18:05"
        assert formatted[1].replace("\u00a0", " ") == "9,90 €"
    finally:
        context.close()


SUPERVISOR = ("sam-supervisor", "sam-supervisor-password")
SUPERVISOR_SETUP = f"""
from agents.services.staff import staff_member_setup
from cartassist.core.roles import Role
from cartassist.models import Site
staff_member_setup(
    username={SUPERVISOR[0]!r}, password={SUPERVISOR[1]!r}, role=Role.SUPERVISOR,
    site=Site.objects.get(public_key="pk_demo_storefront"), display_name="Sam", capacity=3,
)
"""


def _manage_shell(server: Any, code: str) -> None:
    """``manage.py shell -c`` on the chat server's database (as its fixture runs it)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DEBUG"}
        and not key.startswith(("CARTASSIST_", "SECURE_", "SESSION_", "CSRF_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "cartassist.settings",
            "SQLITE_PATH": str(server.database),
            "DEBUG": "true",
        }
    )
    server.manage(env, "shell", "-c", code)


def test_a_supervisor_sees_colleagues_chats_apart_from_their_own(chat_server, browser):
    # given: a supervisor, away (so the next chat goes to the agent), and the agent online
    _manage_shell(chat_server, SUPERVISOR_SETUP)
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(3)]
    try:
        agent_context, supervisor_context, shopper_context = contexts
        console_online(agent_context, chat_server.url)
        supervisor = supervisor_context.new_page()
        supervisor.goto(chat_server.url + "/console/")
        supervisor.get_by_label("Username").fill(SUPERVISOR[0])
        supervisor.get_by_label("Password").fill(SUPERVISOR[1])
        supervisor.get_by_role("button", name="Log in").click()
        expect(supervisor.locator("#connection")).to_have_attribute("data-state", "online")
        supervisor.get_by_role("button", name="Away").click()
        expect(supervisor.get_by_role("button", name="Away")).to_have_attribute(
            "aria-pressed", "true"
        )

        # when: a shopper is invited and accepts: the chat is the agent's
        shop = shopper_context.new_page()
        shop_until_delivery_step(shop, chat_server.url)
        invitation = shop.get_by_test_id("chat-invitation")
        expect(invitation).to_be_visible()
        invitation.get_by_role("button", name="Accept").click()

        # then: the supervisor sees it under Team, with its agent, not under My chats
        team = supervisor.locator("#team-list .chat-item")
        expect(team.first).to_be_visible()
        expect(team.first.locator(".ci-sub")).to_contain_text("with Alex from Demo Storefront")
        expect(supervisor.locator("#chat-list .chat-item")).to_have_count(0)
        # and the header and the list agree: none of these chats is the supervisor's
        expect(supervisor.locator("#chat-count")).to_have_text("0/3")
        expect(supervisor.locator("#me-load")).to_have_text("0/3 chats")
        assert_no_blocking_violations(supervisor)
    finally:
        for context in contexts:
            context.close()
