"""Email to a shopper who left a chat (docs/REALTIME.md, "Email to a shopper who left"):
sent through Django's SMTP backend to a real local SMTP server (aiosmtpd), refused
with a reason when it may not go, recorded on the intervention, with signed resume and
unsubscribe links."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from agents.errors import NotFound
from agents.models import (
    CloseReason,
    ConversationStatus,
    Invitation,
    ShopperEmail,
    ShopperEmailDay,
    ShopperEmailStatus,
)
from agents.services.presence import shopper_has_left
from agents.services.shopper_emails import (
    EmailRefused,
    email_resume_verify,
    shopper_email_addresses_purge,
)
from agents.tokens import VisitorIdentity, email_resume_token, email_unsubscribe_verify
from cartassist.carts.services.visitors import visitor_sockets_count
from cartassist.flows.shopper_email import (
    ResumedVisitor,
    conversation_email_send,
    shopper_email_resume_page,
    widget_resume,
)
from cartassist.models import ShopperEmailAddress, Site, Visitor
from cartassist.outcomes.services.analytics import analytics_compute
from tests.fixtures.agents import make_agent
from tests.fixtures.emails import ADDRESS, LINK_BASE, email_ready_site, left_chat
from tests.fixtures.policies import Chat
from tests.fixtures.smtp import SmtpServer

pytestmark = pytest.mark.django_db(transaction=True)


def send(chat: Chat, **kwargs: Any) -> ShopperEmail:
    return conversation_email_send(
        agent=kwargs.pop("agent", chat.agent),
        conversation_id=chat.conversation.pk,
        link_base=LINK_BASE,
        now=kwargs.pop("now", timezone.now()),
    )


def test_email_reaches_the_smtp_server_branded_with_code_offer_and_links(
    site: Site, smtp_server: SmtpServer
) -> None:
    # given
    site = email_ready_site(site)
    chat = left_chat(site)
    # when
    email = send(chat)
    # then
    (received,) = smtp_server.received
    assert received.recipients == [ADDRESS]
    assert received.mail_from == "help@shop.example"
    message = received.message
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Maple & Thread", "help@shop.example")
    assert message["Subject"] == "Your chat with Maple & Thread"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].endswith("@shop.example>")
    text, html = received.part("text/plain"), received.part("text/html")
    code = chat.conversation.invitation.verification_code  # type: ignore[union-attr]
    for body in (text, html):
        assert "I have waived the delivery charge for you." in body
        assert "Delivery charge waived" in body
        assert "€9.90" in body
        assert code in body
        assert f"{LINK_BASE}/verify/{code}?lang=en" in body
        (token,) = set(re.findall(rf"{LINK_BASE}/email/resume/([\w:-]+)", body))
        assert email_resume_verify(token) == email
    (unsubscribe,) = re.findall(
        rf"^<{LINK_BASE}/email/unsubscribe/([\w:-]+)\?lang=en>$",
        message["List-Unsubscribe"].strip(),
    )
    assert email_unsubscribe_verify(unsubscribe) == VisitorIdentity(site.pk, "visitor-1")
    assert "#1f3a5f" in html  # the site's brand colour
    email.refresh_from_db()
    assert (email.status, email.attempts) == (ShopperEmailStatus.SENT, 1)
    assert email.intervention_id == chat.conversation.invitation.intervention_id  # type: ignore[union-attr]
    assert email.message_id == message["Message-ID"]
    assert ShopperEmailDay.objects.get(site=site).sent == 1


def test_email_speaks_the_shoppers_language(site: Site, smtp_server: SmtpServer) -> None:
    site = email_ready_site(site)
    chat = left_chat(site)
    Invitation.objects.filter(conversation=chat.conversation).update(language="de")
    send(chat)
    (received,) = smtp_server.received
    assert received.message["Subject"] == "Ihr Chat mit Maple & Thread"
    assert received.message["Content-Language"] == "de"
    assert "9,90\xa0€" in received.part("text/plain")  # Babel: a no-break space


def refused(chat: Chat, code: str, **kwargs: Any) -> None:
    with pytest.raises(EmailRefused) as caught:
        send(chat, **kwargs)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("code", "arrange"),
    [
        ("not_identified", lambda site, chat: ShopperEmailAddress.objects.all().delete()),
        (
            "opted_out",
            lambda site, chat: Visitor.objects.filter(site=site).update(
                opted_out_at=timezone.now()
            ),
        ),
        (
            "sender_unverified",
            lambda site, chat: Site.objects.filter(pk=site.pk).update(email_sender_verified=False),
        ),
        (
            "sender_unverified",
            lambda site, chat: Site.objects.filter(pk=site.pk).update(email_sender_address=""),
        ),
        (
            "shopper_present",
            lambda site, chat: visitor_sockets_count(
                site_id=site.pk, visitor_id="visitor-1", change=1
            ),
        ),
        (
            "daily_limit",
            lambda site, chat: Site.objects.filter(pk=site.pk).update(email_daily_limit=0),
        ),
        (
            "closed",
            lambda site, chat: chat.conversation.__class__.objects.filter(
                pk=chat.conversation.pk
            ).update(status=ConversationStatus.CLOSED, close_reason=CloseReason.VISITOR),
        ),
    ],
)
def test_refusals_send_and_record_nothing(
    site: Site, smtp_server: SmtpServer, code: str, arrange: Any
) -> None:
    # given
    site = email_ready_site(site)
    chat = left_chat(site)
    arrange(site, chat)
    # when / then
    refused(chat, code)
    assert ShopperEmail.objects.count() == 0
    assert list(ShopperEmailDay.objects.values_list("sent", flat=True)) in ([], [0])
    assert smtp_server.received == []


def test_frequency_cap_allows_one_email_per_shopper_within_the_cap(
    site: Site, smtp_server: SmtpServer
) -> None:
    site = email_ready_site(site, frequency_cap_hours=24)
    chat = left_chat(site)
    now = timezone.now()
    send(chat, now=now)
    refused(chat, "frequency_cap", now=now + timedelta(hours=23))
    assert ShopperEmail.objects.count() == 1
    assert ShopperEmailDay.objects.get().sent == 1
    send(chat, now=now + timedelta(hours=25))
    assert len(smtp_server.received) == 2


def test_daily_limit_counts_the_sites_local_day(site: Site, smtp_server: SmtpServer) -> None:
    site = email_ready_site(site, email_daily_limit=1, frequency_cap_hours=0)
    first, second = left_chat(site, visitor_id="v-1"), left_chat(site, visitor_id="v-2")
    send(first)
    refused(second, "daily_limit")
    assert len(smtp_server.received) == 1
    assert ShopperEmailDay.objects.get().sent == 1


def test_shopper_started_chat_cannot_be_emailed(site: Site, smtp_server: SmtpServer) -> None:
    site = email_ready_site(site)
    chat = left_chat(site)
    chat.conversation.__class__.objects.filter(pk=chat.conversation.pk).update(invitation=None)
    refused(chat, "no_invitation")


def test_another_agents_chat_looks_missing(site: Site, smtp_server: SmtpServer) -> None:
    site = email_ready_site(site)
    chat = left_chat(site)
    with pytest.raises(NotFound):
        send(chat, agent=make_agent(site, name="Bea"))
    assert ShopperEmail.objects.count() == 0


def test_chat_timed_out_can_be_emailed_and_reopens_on_resume(
    site: Site, smtp_server: SmtpServer
) -> None:
    # given: the housekeeping closed the chat because the shopper left
    site = email_ready_site(site)
    chat = left_chat(site)
    chat.conversation.__class__.objects.filter(pk=chat.conversation.pk).update(
        status=ConversationStatus.CLOSED,
        close_reason=CloseReason.VISITOR_TIMEOUT,
        closed_at=timezone.now(),
    )
    email = send(chat)
    token = email_resume_token(email_id=email.pk)
    # when: the link is opened (by the shopper, or a mail scanner)
    page = shopper_email_resume_page(token=token, now=timezone.now())
    # then: nothing changed yet; the page offers the way back into the chat
    assert page is not None
    chat.conversation.refresh_from_db()
    assert chat.conversation.status == ConversationStatus.CLOSED
    assert page["conversation_open"] is True
    assert [(o["label"], o["amount"], o["expired"]) for o in page["offers"]] == [
        ("Delivery charge waived", "€9.90", False)
    ]
    assert page["continue_url"].startswith("https://shop.example/cart?cartassist_resume=")
    # when: the widget on the shop's page continues the chat
    resumed = widget_resume(site=site, token=token, now=timezone.now())
    # then: the chat is back (routed to the free agent), as the emailed visitor
    assert resumed == ResumedVisitor(visitor_id="visitor-1", conversation_id=chat.conversation.pk)
    chat.conversation.refresh_from_db()
    assert chat.conversation.status == ConversationStatus.ACTIVE


def test_resume_link_expires_but_the_offer_keeps_its_own_expiry(
    site: Site, smtp_server: SmtpServer, settings: Any
) -> None:
    site = email_ready_site(site)
    chat = left_chat(site)
    email = send(chat)
    token = email_resume_token(email_id=email.pk)
    offer = chat.conversation.offers.get()
    after_offer = offer.expires_at + timedelta(seconds=1)
    with time_machine.travel(after_offer, tick=False):
        page = shopper_email_resume_page(token=token, now=after_offer)
    assert page is not None
    assert page["offers"][0]["expired"] is True
    later = timezone.now() + settings.CARTASSIST_EMAIL_RESUME_TTL + timedelta(seconds=5)
    with time_machine.travel(later, tick=False):
        assert shopper_email_resume_page(token=token, now=later) is None
    assert shopper_email_resume_page(token=token + "x", now=timezone.now()) is None


def test_smtp_failure_is_retried_then_recorded_failed(
    site: Site, smtp_server: SmtpServer, settings: Any
) -> None:
    # given: the server answers 451 to everything (eager tasks retry in-line)
    settings.CARTASSIST_EMAIL_MAX_ATTEMPTS = 3
    site = email_ready_site(site)
    chat = left_chat(site)
    smtp_server.refuse()
    # when
    email = send(chat)
    # then
    email.refresh_from_db()
    assert (email.status, email.attempts) == (ShopperEmailStatus.FAILED, 3)
    assert "451" in email.last_error
    assert smtp_server.received == []


def test_retention_purges_addresses_not_renewed(site: Site, settings: Any) -> None:
    chat = left_chat(site)
    now = timezone.now()
    assert shopper_email_addresses_purge(now=now) == 0
    later = now + settings.CARTASSIST_SHOPPER_EMAIL_RETENTION + timedelta(seconds=1)
    assert shopper_email_addresses_purge(now=later) == 1
    assert not ShopperEmailAddress.objects.filter(cart=chat.cart).exists()


def test_a_sent_email_counts_in_the_funnel(site: Site, smtp_server: SmtpServer) -> None:
    # given
    site = email_ready_site(site)
    chat = left_chat(site)
    today = timezone.localdate()
    report_before = analytics_compute(
        site_ids=[site.pk], date_from=today, date_to=today, tz=timezone.get_current_timezone()
    )
    # when
    send(chat)
    # then
    report = analytics_compute(
        site_ids=[site.pk], date_from=today, date_to=today, tz=timezone.get_current_timezone()
    )
    assert (report_before.funnel.emailed, report.funnel.emailed) == (0, 1)
    assert report.funnel.invited == report_before.funnel.invited == 1


def test_sender_test_email_then_verified(site: Site, smtp_server: SmtpServer) -> None:
    # given: a sender address not verified yet
    Site.objects.filter(pk=site.pk).update(email_sender_address="help@shop.example")
    out = io.StringIO()
    # when
    call_command("cartassist_email_test", site.public_key, "--to", "me@shop.example", stdout=out)
    # then: the test went out from the sender; still unverified until the operator says so
    (received,) = smtp_server.received
    assert (received.mail_from, received.recipients) == ("help@shop.example", ["me@shop.example"])
    assert Site.objects.get(pk=site.pk).email_sender_verified is False
    call_command("cartassist_email_test", site.public_key, "--verified", stdout=out)
    assert Site.objects.get(pk=site.pk).email_sender_verified is True


def test_resume_page_must_be_on_an_allowed_origin(site: Site) -> None:
    site.resume_page_url = "https://elsewhere.example/cart"
    with pytest.raises(ValidationError) as caught:
        site.full_clean()
    assert list(caught.value.message_dict) == ["resume_page_url"]
    site.resume_page_url = "https://shop.example/cart"
    site.full_clean()


def test_a_socket_count_left_by_a_crashed_process_does_not_keep_the_shopper(
    site: Site, settings: Any
) -> None:
    # given: the count says one socket, but nothing was heard for the visitor timeout
    chat = left_chat(site)
    visitor_sockets_count(site_id=site.pk, visitor_id="visitor-1", change=1)
    seen = chat.conversation.visitor_last_seen_at
    # then
    assert shopper_has_left(conversation=chat.conversation, now=seen) is False
    later = seen + settings.CARTASSIST_VISITOR_TIMEOUT + timedelta(seconds=1)
    assert shopper_has_left(conversation=chat.conversation, now=later) is True
    # and the count never goes below zero
    for _ in range(3):
        visitor_sockets_count(site_id=site.pk, visitor_id="visitor-1", change=-1)
    assert Visitor.objects.get(external_id="visitor-1").open_sockets == 0
