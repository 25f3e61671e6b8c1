"""Issue 14's "reaching a shopper who left", in two browsers and a real SMTP server: the
shopper leaves mid-chat with an offer open → the agent emails them from the console →
the email arrives at the local SMTP server (aiosmtpd) → its link opens the chat again,
the offer intact → the verification code checks out on the verification page.

The shop's backend gives CartAssist the shopper's address in a signed server event, as
a real shop would (docs/API.md); the demo site's sender is set and verified."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from cartassist.client import signed_headers
from tests.e2e.conftest import ChatServer, serve_chat
from tests.e2e.journeys import AGENT_NAME, console_online, expect, shop_until_delivery_step
from tests.fixtures.smtp import SmtpServer, running_smtp_server

pytestmark = [pytest.mark.browser]

SHOPPER_EMAIL = "ada@example.com"
EMAIL_SETUP = """
site.email_sender_address = "help@demo.example"
site.email_sender_verified = True
site.resume_page_url = "$URL/demo/"
site.save()
"""


@pytest.fixture(scope="module")
def mail_server() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def email_server(
    tmp_path_factory: pytest.TempPathFactory, mail_server: SmtpServer
) -> Iterator[ChatServer]:
    yield from serve_chat(
        tmp_path_factory,
        extra_env={"EMAIL_HOST": mail_server.host, "EMAIL_PORT": str(mail_server.port)},
        setup=EMAIL_SETUP,
    )


def shop_backend_gives_the_email(server: ChatServer, page: Any) -> None:
    """What the shop's backend sends: a signed server event naming the shopper's email
    (the delivery quote the shopper saw, so the cart's state stays as it is)."""
    ((key, secret),) = server.rows(
        "SELECT public_key, secret FROM cartassist_site WHERE public_key = 'pk_demo_storefront'"
    )
    event = {
        "id": "backend-contact-1",
        "type": "shipping_quoted",
        "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cart_id": page.evaluate("document.body.dataset.cartId"),
        "visitor_id": page.evaluate("window.CartAssist.visitorId()"),
        "email": SHOPPER_EMAIL,
        "data": {"currency": "EUR", "fee": "9.90"},
    }
    body = json.dumps({"events": [event]}).encode()
    request = urllib.request.Request(
        server.url + "/api/v1/server/events",
        data=body,
        headers={
            "Content-Type": "application/json",
            **signed_headers(site_key=key, secret=secret, message=body),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def wait_until_left(server: ChatServer) -> None:
    """The widget's socket closed with the page: its count reaches 0 (the server
    processes the close after the browser sent it)."""
    for _ in range(200):
        if server.rows("SELECT sum(open_sockets) FROM cartassist_visitor") == [(0,)]:
            return
        time.sleep(0.05)
    pytest.fail("the shopper's socket did not close")


def test_shopper_who_left_is_emailed_and_returns_to_the_chat_with_the_offer(
    email_server: ChatServer, mail_server: SmtpServer, browser: Any
) -> None:
    base = email_server.url
    agent_context = browser.new_context(viewport={"width": 1280, "height": 900})
    shopper_context = browser.new_context(viewport={"width": 1100, "height": 900})
    for context in (agent_context, shopper_context):
        context.set_default_timeout(15_000)
    console = console_online(agent_context, base)
    shop = shopper_context.new_page()

    # given: the shopper balks at the delivery charge; the shop's backend names them
    shop_until_delivery_step(shop, base)
    shop_backend_gives_the_email(email_server, shop)
    shop.get_by_test_id("chat-invitation").get_by_role("button", name="Accept").click()
    expect(shop.get_by_test_id("chat-status")).to_have_text(f"You're chatting with {AGENT_NAME}")
    console.locator("#chat-list .chat-item").click()
    # and the agent offers to waive the delivery charge and says so
    waive = console.locator('#remedies .remedy.allowed[data-kind="waive_delivery"]')
    waive.get_by_role("button", name="Offer").click()
    expect(shop.get_by_test_id("chat-offer")).to_be_visible()
    console.locator("#composer-text").fill("The delivery is on us: just accept the offer.")
    console.locator("#send-button").click()
    expect(
        shop.get_by_test_id("chat-messages").get_by_text(
            "The delivery is on us: just accept the offer."
        )
    ).to_be_visible()

    # when: the shopper leaves mid-chat, and the agent emails them from the console
    shop.close()
    wait_until_left(email_server)
    console.get_by_role("button", name="Email the shopper").click()
    expect(console.locator("#toast")).to_contain_text("Email to the shopper queued")

    # then: the email arrives at the SMTP server, from the shop's verified sender
    (received,) = mail_server.wait_for(1)
    assert received.recipients == [SHOPPER_EMAIL]
    assert received.mail_from == "help@demo.example"
    text = received.part("text/plain")
    assert "The delivery is on us: just accept the offer." in text
    (code,) = email_server.rows("SELECT verification_code FROM agents_invitation")[0]
    assert f"Its code is {code}." in text
    (resume_url,) = re.findall(rf"{re.escape(base)}/email/resume/\S+", text)

    # when: the shopper follows the link, in a browser that never saw the shop
    returning = browser.new_context(viewport={"width": 1100, "height": 900})
    returning.set_default_timeout(15_000)
    page = returning.new_page()
    page.goto(resume_url)
    # then: the chat's last message, the offer with its expiry unchanged
    expect(page.get_by_test_id("resume-last-message")).to_have_text(
        "The delivery is on us: just accept the offer."
    )
    expect(page.get_by_test_id("resume-offers")).to_contain_text("Delivery charge waived: €9.90")
    expect(page.get_by_test_id("resume-offers")).to_contain_text("Valid until")

    # when: the shopper checks the code
    page.get_by_test_id("resume-verify").click()
    # then: the verification page says the invitation is genuine, with its code
    expect(page.get_by_role("heading", level=1)).to_have_text("✓ This invitation is genuine")
    expect(page.locator("code")).to_have_text(code)
    page.go_back()

    # when: the shopper continues the chat on the shop's page
    page.get_by_test_id("resume-continue").click()
    # then: the widget continues as the emailed visitor: the chat, the offer still open
    expect(page.get_by_test_id("chat-status")).to_have_text(f"You're chatting with {AGENT_NAME}")
    expect(
        page.get_by_test_id("chat-messages").get_by_text(
            "The delivery is on us: just accept the offer."
        )
    ).to_be_visible()
    card = page.get_by_test_id("chat-offer")
    expect(card.get_by_test_id("offer-totals")).to_have_text("Total before: €48.40 → now: €38.50")
    assert "cartassist_resume" not in page.url
    assert email_server.rows("SELECT status FROM agents_shopperemail") == [("sent",)]
    for context in (returning, shopper_context, agent_context):
        context.close()
