"""The widget looks like the shop and never hides its total or checkout button (issue 12),
in a real journey at desktop (1280×800) and phone (390×844) sizes: a shopper stalls at the
demo shop's delivery step, is invited, accepts, and accepts the agent's waiver.

Runs against the real ASGI server (``chat_server``, seeded by `manage.py demo`); the
site's branding is set as admin would: display name "Maple & Thread", the shop's green.
The demo shop marks its total and checkout button with ``data-cartassist-keep-visible``
(docs/WIDGET.md, "Keeping the checkout visible").

CARTASSIST_SCREENSHOTS=1 also writes docs/screenshots/widget-desktop.png and
widget-phone.png.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.journeys import RECORD_EVENTS, console_online, expect, shop_until_delivery_step
from tests.e2e.widget_harness import (
    API,
    CONVERSATION,
    INVITATION,
    INVITATION_MESSAGE,
    SITE,
    SIZES,
    agent_message,
    assert_reachable,
    hello,
    open_chat,
    push,
    scripted_shop,
    settle,
    shadow,
)

pytestmark = [pytest.mark.browser]

BRAND = "#2f5d50"
BRAND_RGB = "rgb(47, 93, 80)"
SHOP_NAME = "Maple & Thread"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# What the demo shop marks as never to be covered, on the delivery step.
TOTAL = "[data-testid=total]"
CHECKOUT = "[data-testid=checkout]"


def brand_the_site(chat_server: Any) -> None:
    connection = sqlite3.connect(chat_server.database, timeout=10)
    try:
        connection.execute(
            "UPDATE cartassist_site SET display_name = ?, brand_colour = ? "
            "WHERE public_key = 'pk_demo_storefront'",
            (SHOP_NAME, BRAND),
        )
        connection.commit()
    finally:
        connection.close()


def assert_total_and_checkout_reachable(page: Any) -> None:
    for selector in (TOTAL, CHECKOUT):
        assert_reachable(page, selector)
    page.evaluate("() => window.scrollTo(0, 0)")
    settle(page)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_widget_is_branded_and_keeps_the_total_and_checkout_in_reach(
    chat_server, browser, size
):
    brand_the_site(chat_server)
    base = chat_server.url
    agent_context = browser.new_context(viewport={"width": 1280, "height": 900})
    shopper_context = browser.new_context(**SIZES[size])
    for context in (agent_context, shopper_context):
        context.set_default_timeout(15_000)
    shopper_context.add_init_script(RECORD_EVENTS)
    try:
        console = console_online(agent_context, base)
        shop = shopper_context.new_page()
        journey(shop, console, base, size)
    finally:
        shopper_context.close()
        agent_context.close()


def journey(shop: Any, console: Any, base: str, size: str) -> None:
    # given: a shopper stalls at the delivery step and is invited
    shop_until_delivery_step(shop, base)
    invitation = shop.get_by_test_id("chat-invitation")
    expect(invitation).to_be_visible()

    # then: the invitation wears the shop's colour and leaves the total and button in reach
    accept = invitation.get_by_role("button", name="Accept")
    expect(accept).to_have_css("background-color", BRAND_RGB)
    expect(accept).to_have_css("color", "rgb(255, 255, 255)")
    if size == "phone":
        # a compact bar, not a sheet over a quarter of the screen
        height = shop.get_by_test_id("chat-panel").bounding_box()["height"]
        assert height <= 0.2 * 844, f"the invitation bar is {height}px tall"
    assert_total_and_checkout_reachable(shop)

    # when: the shopper accepts
    accept.click()
    status = shop.get_by_test_id("chat-status")
    expect(status).to_have_text(re.compile(r"^You're chatting with \w+"))
    # then: the shop's name once, in the header, on the brand colour; the agent's name once
    expect(shop.get_by_test_id("chat-title")).to_have_text(SHOP_NAME)
    head = shop.locator("#cartassist-chat").locator(".head")
    expect(head).to_have_css("background-color", BRAND_RGB)
    expect(head).to_have_css("color", "rgb(255, 255, 255)")
    assert shop.get_by_test_id("chat-panel").inner_text().count(SHOP_NAME) == 1
    # and the first message of the chat is the invitation, with its verification code
    first = shop.get_by_test_id("chat-messages").locator("li").first
    expect(first).to_have_class(re.compile(r"\binvitation\b"))
    expect(first.get_by_test_id("chat-verify")).to_have_text(
        re.compile(r"^Verify this invitation: [A-Z0-9]{8}$")
    )
    assert_total_and_checkout_reachable(shop)

    # when: the shopper writes; their bubble is the shop's colour
    shop.get_by_role("textbox", name="Message").fill("Is delivery really 9.90?")
    shop.get_by_role("button", name="Send").click()
    bubble = shop.get_by_test_id("chat-messages").locator(".msg.visitor .text").last
    expect(bubble).to_have_css("background-color", BRAND_RGB)

    # when: the agent offers to waive the delivery charge and the shopper accepts
    console.locator("#chat-list .chat-item").first.click()
    waive = console.locator('#remedies .remedy.allowed[data-kind="waive_delivery"]')
    waive.get_by_role("button", name="Offer").click()
    card = shop.get_by_test_id("chat-offer")
    expect(card.get_by_test_id("offer-totals")).to_have_text("Total before: €48.40 → now: €38.50")
    card.get_by_role("button", name="Accept offer").click()
    expect(shop.get_by_test_id("total")).to_have_text("€38.50")

    # then: the reduced total and the checkout button are in reach with the chat open
    assert_reachable(shop, CHECKOUT)
    assert_reachable(shop, TOTAL)
    if os.environ.get("CARTASSIST_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shop.screenshot(path=str(SCREENSHOTS / f"widget-{size}.png"))

    # finally: the shopper ends the chat (the next journey starts with a free agent)
    shop.get_by_test_id("chat-end").click()
    expect(status).to_have_text("This chat has ended.")


# --- branding details on the scripted shop (no server) ----------------------------------

LIGHT_SITE = {**SITE, "display_name": "Sunny Goods", "brand_colour": "#f5c518",
              "text_colour": "#111827", "logo_url": f"{API}/images/ok.png"}  # fmt: skip


def test_a_light_brand_colour_gets_dark_text_and_the_logo_then_the_agents_photo(browser):
    with scripted_shop(browser, options={"launcher": True}, site=LIGHT_SITE) as page:
        start = page.get_by_role("button", name="Chat with us")
        expect(start).to_have_css("background-color", "rgb(245, 197, 24)")
        expect(start).to_have_css("color", "rgb(17, 24, 39)")
        # the launcher's icon is inline SVG, not an emoji or an icon font
        assert start.locator("svg").count() == 1
        assert start.inner_text().strip() == "Chat with us"
        push(page, hello(invitations=[INVITATION]))
        # the header: the shop's name once, its logo as the avatar
        expect(page.get_by_test_id("chat-title")).to_have_text("Sunny Goods")
        logo = shadow(page, ".head .avatar img")
        expect(logo).to_have_attribute("src", f"{API}/images/ok.png")
        # when: the chat opens with an agent who has a photo that does not load
        photo = f"{API}/images/missing.png"
        conversation = {**CONVERSATION, "agent_name": "Alex from Sunny Goods",
                        "agent": {"first_name": "Alex", "photo_url": photo}}  # fmt: skip
        push(page, hello(conversations=[conversation]))
        # then: the agent's first name only, and the initial instead of the broken photo
        expect(page.get_by_test_id("chat-status")).to_have_text("You're chatting with Alex")
        expect(shadow(page, ".head .avatar")).to_have_text("A")
        expect(shadow(page, ".head .avatar img")).to_have_count(0)
        panel_text = page.get_by_test_id("chat-panel").inner_text()
        assert panel_text.count("Sunny Goods") == 1
        assert "Alex from" not in panel_text


def test_consecutive_messages_from_one_author_form_a_group(browser):
    with scripted_shop(browser) as page:
        open_chat(
            page,
            [
                INVITATION_MESSAGE,
                agent_message(2, "Hello!", 1),
                agent_message(3, "The delivery can be waived.", 2),
                {**agent_message(4, "Great", 3), "sender": "visitor", "author_name": ""},
                {**agent_message(5, "Thanks", 3), "sender": "visitor", "author_name": ""},
                agent_message(6, "You're welcome.", 30),
            ],
        )
        items = shadow(page, "li.msg")
        expect(items).to_have_count(6)
        grouped = [
            "grouped" in (items.nth(i).get_attribute("class") or "").split() for i in range(6)
        ]
        # the invitation stands alone; 2–3 and 4–5 are groups; 6 is 27 minutes later
        assert grouped == [False, False, True, False, True, False]
        # one visible name per group; screen readers still get every author
        visible_names = shadow(page, "li.msg .meta:not(.sr-only) .author")
        expect(visible_names).to_have_text(["Alex", "Alex", "You", "Alex"])
        expect(shadow(page, "li.msg.grouped .meta.sr-only .author")).to_have_text(["Alex", "You"])
