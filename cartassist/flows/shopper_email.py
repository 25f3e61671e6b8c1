"""Email to a shopper who left a chat (docs/REALTIME.md, "Email to a shopper who left";
docs/OPERATIONS.md, "Email to shoppers"; docs/adr/0025).

A flow, because it crosses domains: the chat (who left, the record, the limits), the
policies (the chat's open offers) and the carts (the shopper's address and opt-out).

1. ``conversation_email_send`` (the console's action): checks, records and queues the
   email; the task sends it after the commit.
2. ``shopper_email_deliver`` (the task): renders the email in the shopper's language,
   branded for the site, from the site's verified sender, and hands it to Django's
   email backend; a failure is retried by the task.
3. ``shopper_email_resume_page`` (the email's link): the chat, its offers as they stand
   now and the verification code; the link back into the widget on the shop's page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from email.utils import formataddr
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import make_msgid
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from agents.models import (
    AgentProfile,
    CloseReason,
    Conversation,
    ConversationStatus,
    Message,
    MessageKind,
    ShopperEmail,
)
from agents.payloads import OFFER_LABELS
from agents.services import shopper_emails as emails
from agents.services.conversations import conversation_for_agent
from agents.services.presence import shopper_has_left
from agents.tokens import email_resume_token, email_unsubscribe_token
from cartassist.carts.models import Site, Visitor
from cartassist.carts.services.visitors import visitor_language
from cartassist.core.locks import for_update
from cartassist.domain.branding import text_colour_on
from cartassist.domain.formatting import format_moment, format_money
from policies.models import Offer, OfferStatus

logger = logging.getLogger(__name__)

# The parameter the widget on the shop's page reads (static/widget/cartassist.js).
RESUME_PARAMETER = "cartassist_resume"


def conversation_email_send(
    *, agent: AgentProfile, conversation_id: int, link_base: str, now: datetime
) -> ShopperEmail:
    """Email the shopper who left this chat its last message and open offers.

    In one transaction, the chat's row locked, then the visitor's (ADR 0009 order):
    1. The chat is the agent's (a supervisor: any of the site), else ``not_found``.
    2. It was opened from an invitation (the email carries its verification code and is
       recorded on its intervention), else ``no_invitation``.
    3. The site's sender address is set and verified, else ``sender_unverified``.
    4. The shopper left: an open chat without the shopper's socket, or a chat closed
       because the shopper timed out (``presence.shopper_has_left``); ``closed`` for a
       chat someone ended, ``shopper_present`` while the shopper is there.
    5. A deliverable address came through a signed server event (``not_identified``),
       the shopper has not opted out (``opted_out``), no email to the shopper within
       the frequency cap (``frequency_cap``), and the site's daily limit is not reached
       (``daily_limit``; counted with one conditional UPDATE).
    6. The ``ShopperEmail`` row is recorded (queued) and sent after the commit.

    A refusal raises ``EmailRefused`` (a ``ChatError``) and changes nothing.
    """
    with transaction.atomic():
        conversation = conversation_for_agent(
            agent=agent, conversation_id=conversation_id, lock=True
        )
        if conversation.invitation is None:
            raise emails.refusal("no_invitation")
        site = Site.objects.get(pk=conversation.site_id)
        if not site.email_sender_ready:
            raise emails.refusal("sender_unverified")
        if not shopper_has_left(conversation=conversation, now=now):
            closed = conversation.status == ConversationStatus.CLOSED
            raise emails.refusal("closed" if closed else "shopper_present")
        _recipient_allowed(site=site, conversation=conversation, now=now)
        language = conversation.invitation.language or visitor_language(
            site=site, visitor_id=conversation.visitor_id
        )
        if not emails.email_daily_count_consume(site=site, now=now):
            raise emails.refusal("daily_limit")
        return emails.shopper_email_record(
            conversation=conversation,
            agent_id=agent.pk,
            language=site.language_for(language),
            link_base=link_base,
            now=now,
        )


def _recipient_allowed(*, site: Site, conversation: Conversation, now: datetime) -> None:
    """Step 5 without the daily count: address, opt-out, frequency cap (visitor locked)."""
    list(for_update(Visitor.objects.filter(site=site, external_id=conversation.visitor_id)))
    if emails.shopper_email_address(conversation=conversation) is None:
        raise emails.refusal("not_identified")
    if emails.visitor_opted_out(site_id=site.pk, visitor_id=conversation.visitor_id):
        raise emails.refusal("opted_out")
    if emails.email_frequency_capped(site=site, visitor_id=conversation.visitor_id, now=now):
        raise emails.refusal("frequency_cap")


# --- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryResult:
    status: str  # "sent", "retry", "failed", "skipped"
    error: str = ""


def shopper_email_deliver(*, email_id: int, now: datetime, final_attempt: bool) -> DeliveryResult:
    """One attempt at sending a queued email (a no-op when it is not queued any more).

    1. Count the attempt (``shopper_email_attempt_start``: only a queued email).
    2. Check again what may have changed since the agent pressed the button: the
       shopper opted out, the address was deleted, the sender is no longer verified —
       the email then fails without being sent.
    3. Render and send it through Django's email backend (``EMAIL_*`` settings).
    4. Record it sent with its Message-ID, or the error: the task retries until
       ``final_attempt``, then the email is marked failed.
    """
    email = emails.shopper_email_attempt_start(email_id=email_id)
    if email is None:
        return DeliveryResult("skipped")
    address = emails.shopper_email_address(conversation=email.conversation)
    problem = _still_sendable(email, address)
    if problem or address is None:
        emails.shopper_email_failed(email_id=email_id, error=problem, final=True)
        return DeliveryResult("failed", problem)
    message = shopper_email_message(email=email, address=address, now=now)
    try:
        with get_connection(fail_silently=False) as connection:
            connection.send_messages([message])
    except Exception as error:  # any transport error: SMTP, socket, TLS
        text = f"{type(error).__name__}: {error}"
        logger.warning("email %s to a shopper not sent: %s", email_id, text)
        emails.shopper_email_failed(email_id=email_id, error=text, final=final_attempt)
        return DeliveryResult("failed" if final_attempt else "retry", text)
    emails.shopper_email_sent(
        email_id=email_id, message_id=message.extra_headers["Message-ID"], now=now
    )
    return DeliveryResult("sent")


def _still_sendable(email: ShopperEmail, address: str | None) -> str:
    if not email.site.email_sender_ready:
        return "the site's sender is not verified any more"
    if emails.visitor_opted_out(site_id=email.site_id, visitor_id=email.visitor_id):
        return "the shopper opted out"
    if address is None:
        return "no address is kept for the shopper any more"
    return ""


def shopper_email_message(
    *, email: ShopperEmail, address: str, now: datetime
) -> EmailMultiAlternatives:
    """The email, plain text and HTML, in the shopper's language, from the site's
    sender, with ``List-Unsubscribe`` and one-click unsubscribe (RFC 8058)."""
    site = email.site
    token = email_unsubscribe_token(site_id=site.pk, visitor_id=email.visitor_id)
    unsubscribe = _absolute(
        email,
        f"{reverse('email-unsubscribe', args=[token])}?{urlencode({'lang': email.language})}",
    )
    with translation.override(email.language):
        context = {
            **_chat_context(email=email, now=now),
            "resume_url": _absolute(
                email,
                reverse("email-resume", args=[email_resume_token(email_id=email.pk)]),
            ),
            "unsubscribe_url": unsubscribe,
        }
        subject = _("Your chat with %(shop)s") % {"shop": site.shopper_facing_name}
        text = render_to_string("agents/email/conversation.txt", context)
        html = render_to_string("agents/email/conversation.html", context)
    sender_domain = site.email_sender_address.rpartition("@")[2]
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=formataddr((site.shopper_facing_name, site.email_sender_address)),
        to=[address],
        headers={
            "Message-ID": make_msgid(domain=sender_domain),
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Content-Language": email.language,
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def _absolute(email: ShopperEmail, path: str) -> str:
    return f"{email.link_base}{path}"


def _chat_context(*, email: ShopperEmail, now: datetime) -> dict[str, Any]:
    """What the email and the resume page show: the shop's branding, the chat's last
    message, its open offers with their expiry (expired ones say so), the invitation's
    verification code and its page. Call inside ``translation.override``."""
    site = email.site
    conversation = email.conversation
    invitation = conversation.invitation
    assert invitation is not None  # an email is only ever recorded for one
    language = email.language
    last = (
        Message.objects.filter(conversation=conversation, kind=MessageKind.TEXT)
        .select_related("agent")
        .order_by("-seq")
        .first()
    )
    agent = conversation.agent or invitation.agent or email.agent
    verify_path = reverse("verify-page", args=[invitation.verification_code])
    return {
        "shop": site.shopper_facing_name,
        "brand_colour": site.brand_colour,
        "text_colour": text_colour_on(site.brand_colour),
        "logo_url": site.logo_url,
        "language": language,
        "agent_name": agent.first_name if agent else "",
        "last_message": last.text if last else invitation.headline,
        "last_from_shopper": bool(last and last.sender == "visitor"),
        "offers": [_offer_line(o, site, language, now) for o in _open_offers(conversation)],
        "code": invitation.verification_code,
        "verify_url": _absolute(email, f"{verify_path}?{urlencode({'lang': language})}"),
    }


def _open_offers(conversation: Conversation) -> list[Offer]:
    """The chat's offers the shopper may still take or holds: offered, and accepted
    (a grant was issued); expired ones that were open when the email went stay out."""
    return list(
        Offer.objects.filter(
            conversation=conversation, status__in=[OfferStatus.OFFERED, OfferStatus.ACCEPTED]
        ).order_by("created_at")
    )


def _offer_line(offer: Offer, site: Site, language: str, now: datetime) -> dict[str, Any]:
    moment = format_moment(offer.expires_at, site.timezone, language)
    return {
        "id": offer.pk,
        "label": str(OFFER_LABELS.get(offer.kind, offer.kind)),
        "amount": format_money(Decimal(offer.amount), offer.currency, language)
        if offer.amount is not None
        else "",
        "accepted": offer.status == OfferStatus.ACCEPTED,
        "expired": offer.expires_at <= now,
        "expires": f"{moment.date} {moment.time} ({moment.zone})",
    }


# --- the shopper comes back ---------------------------------------------------------------


def shopper_email_resume_page(*, token: str, now: datetime) -> dict[str, Any] | None:
    """The resume page's context for an email's link, or None when the link is forged
    or expired. The offers are shown as they stand now, each with its own expiry,
    unchanged by the email. ``continue_url`` is the shop's page with the token, where
    the widget picks the chat up (``widget_resume``), while the chat can go on (open, or
    closed because the shopper timed out); empty otherwise or without a resume page.
    A GET changes nothing: mail scanners open links too."""
    email = emails.email_resume_verify(token)
    if email is None:
        return None
    conversation = email.conversation
    context = _chat_context(email=email, now=now)
    context["conversation_open"] = conversation.status != ConversationStatus.CLOSED or (
        conversation.close_reason == CloseReason.VISITOR_TIMEOUT
    )
    page = email.site.resume_page_url
    if page and context["conversation_open"]:
        separator = "&" if urlsplit(page).query else "?"
        context["continue_url"] = f"{page}{separator}{urlencode({RESUME_PARAMETER: token})}"
    else:
        context["continue_url"] = ""
    return context


@dataclass(frozen=True)
class ResumedVisitor:
    visitor_id: str
    conversation_id: int


def widget_resume(*, site: Site, token: str, now: datetime) -> ResumedVisitor | None:
    """The widget on the shop's page exchanges an email's resume token for the visitor
    it was sent to, so that the widget continues as that visitor (its chat, its offers);
    a chat closed because the shopper timed out opens again (``conversation_resume``).
    None when the token is forged, expired or names another site's email."""
    email = emails.email_resume_verify(token)
    if email is None or email.site_id != site.pk:
        return None
    emails.conversation_resume(conversation_id=email.conversation_id, now=now)
    return ResumedVisitor(visitor_id=email.visitor_id, conversation_id=email.conversation_id)


# --- the sender ------------------------------------------------------------------------------


def sender_test_email_send(*, site: Site, to: str) -> str:
    """Send a plain test email from the site's sender address through the configured
    backend, verified or not (that is what it is for); returns its Message-ID. The
    operator reads the received email's ``Authentication-Results`` (docs/OPERATIONS.md,
    "Verifying a sender")."""
    message_id = make_msgid(domain=site.email_sender_address.rpartition("@")[2])
    message = EmailMultiAlternatives(
        subject=f"CartAssist test email for {site.shopper_facing_name}",
        body=(
            "This test email was sent by CartAssist from the sender address of "
            f"{site.shopper_facing_name}.\nCheck its Authentication-Results header: "
            "spf=pass, dkim=pass and dmarc=pass.\n"
        ),
        from_email=formataddr((site.shopper_facing_name, site.email_sender_address)),
        to=[to],
        headers={"Message-ID": message_id},
    )
    with get_connection(fail_silently=False) as connection:
        connection.send_messages([message])
    return message_id


def sender_verified_set(*, site: Site, verified: bool) -> None:
    """Mark the site's sender address verified (or not); saved through the model so
    that the process caches of sites learn of it."""
    site.email_sender_verified = verified
    site.save(update_fields=["email_sender_verified"])
