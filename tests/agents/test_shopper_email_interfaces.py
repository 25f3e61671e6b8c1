"""The interfaces of email to a shopper who left: the console's ``conversation.email``
frame with the widget's socket count as "left", the resume page, the widget's resume
endpoint, and the unsubscribe link with RFC 8058's one-click POST."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from agents.models import ShopperEmail, ShopperEmailStatus
from agents.tokens import email_resume_token, email_unsubscribe_token
from cartassist.flows.shopper_email import conversation_email_send
from cartassist.models import ShopperEmailAddress, Site, Visitor
from tests.fixtures.agents import console_receive
from tests.fixtures.emails import ADDRESS, LINK_BASE, email_ready_site, left_chat
from tests.fixtures.policies import Chat
from tests.fixtures.sites import SHOP_ORIGIN, make_site
from tests.fixtures.smtp import SmtpServer

pytestmark = pytest.mark.django_db(transaction=True)


def open_sockets() -> int:
    return Visitor.objects.get(external_id="visitor-1").open_sockets


async def test_console_emails_the_shopper_once_their_socket_is_gone(
    site: Site, smtp_server: SmtpServer, sockets: Any
) -> None:
    # given: a chat from an invitation, the shopper's widget connected
    site = await database_sync_to_async(email_ready_site)(site)
    chat = await database_sync_to_async(left_chat)(site)
    shopper, _hello = await sockets.widget(site)
    console, _hello = await sockets.console(chat.agent)
    assert await database_sync_to_async(open_sockets)() == 1

    # when: the agent asks while the shopper is there
    frame = {"type": "conversation.email", "conversation_id": chat.conversation.pk}
    await console.send_json_to(frame)
    # then: refused with its code, nothing recorded
    error = await console_receive(console)
    assert (error["type"], error["code"]) == ("error", "shopper_present")
    assert await database_sync_to_async(ShopperEmail.objects.count)() == 0

    # when: the shopper's socket goes, and the agent asks again
    await shopper.disconnect()
    assert await database_sync_to_async(open_sockets)() == 0
    await console.send_json_to(frame)
    # then: queued, sent to the local SMTP server, links on the console's address
    answer = await console_receive(console)
    assert answer["type"] == "conversation.emailed"
    email = await database_sync_to_async(ShopperEmail.objects.get)(pk=answer["email_id"])
    assert (email.status, email.link_base) == (ShopperEmailStatus.SENT, "http://localhost")
    (received,) = smtp_server.received
    assert received.recipients == [ADDRESS]
    assert "http://localhost/email/resume/" in received.part("text/plain")


def emailed(site: Site) -> tuple[Chat, str]:
    """A chat whose shopper left and was emailed, and the email's resume token."""
    chat = left_chat(site)
    email = conversation_email_send(
        agent=chat.agent,
        conversation_id=chat.conversation.pk,
        link_base=LINK_BASE,
        now=timezone.now(),
    )
    return chat, email_resume_token(email_id=email.pk)


def test_resume_page_shows_the_chat_offer_and_code(site: Site, smtp_server: SmtpServer) -> None:
    site = email_ready_site(site)
    chat, token = emailed(site)
    response = Client().get(f"/email/resume/{token}")
    assert response.status_code == 200
    page = response.content.decode()
    assert "I have waived the delivery charge for you." in page
    assert "Delivery charge waived: <strong>€9.90</strong>" in page
    code = chat.conversation.invitation.verification_code  # type: ignore[union-attr]
    assert f'href="{LINK_BASE}/verify/{code}?lang=en"' in page
    assert "https://shop.example/cart?cartassist_resume=" in page
    assert response["Referrer-Policy"] == "no-referrer"
    assert Client().get(f"/email/resume/{token}x").status_code == 404


def test_widget_exchanges_the_token_for_the_visitor(site: Site, smtp_server: SmtpServer) -> None:
    site = email_ready_site(site)
    chat, token = emailed(site)

    def resume(site_key: str, token: str) -> Any:
        body = json.dumps({"site_key": site_key, "token": token})
        return Client().post(
            "/api/v1/widget/resume", body, content_type="text/plain", HTTP_ORIGIN=SHOP_ORIGIN
        )

    response = resume(site.public_key, token)
    assert response.status_code == 200, response.json()
    assert response.json() == {"visitor_id": "visitor-1", "conversation_id": chat.conversation.pk}
    assert resume(site.public_key, token[:-2]).status_code == 404
    assert resume(make_site(name="Other").public_key, token).status_code == 404
    forbidden = Client().post(
        "/api/v1/widget/resume",
        json.dumps({"site_key": site.public_key, "token": token}),
        content_type="text/plain",
        HTTP_ORIGIN="https://evil.example",
    )
    assert forbidden.status_code == 403


def test_unsubscribe_get_asks_and_one_click_post_opts_out(site: Site) -> None:
    # given
    chat = left_chat(site)
    token = email_unsubscribe_token(site_id=site.pk, visitor_id="visitor-1")
    url = f"/email/unsubscribe/{token}?lang=de"
    # when: a mail scanner follows the link
    page = Client().get(url)
    # then: nothing changes; the page asks (in the shopper's language)
    assert page.status_code == 200
    assert "Abmelden" in page.content.decode()
    assert Visitor.objects.get(external_id="visitor-1").opted_out_at is None
    # when: the mail client's one-click POST (RFC 8058), without cookies or CSRF token
    client = Client(enforce_csrf_checks=True)
    done = client.post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    # then: opted out, the kept address deleted
    assert done.status_code == 200
    assert Visitor.objects.get(external_id="visitor-1").opted_out_at is not None
    assert not ShopperEmailAddress.objects.filter(cart=chat.cart).exists()
    assert Client().post(f"/email/unsubscribe/{token}x").status_code == 404
