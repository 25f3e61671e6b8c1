"""Emails to shoppers who left a chat: the record, its limits, its signed links and the
opt-out (docs/REALTIME.md, "Email to a shopper who left"; docs/adr/0025).

What the email says and the sending itself cross domains (the chat's offers are the
policies layer's) and live in ``cartassist/flows/shopper_email.py``; this module holds
the chat's part: who may get an email, the ``ShopperEmail`` row, the per-site daily
count, the resume and unsubscribe tokens, and reopening a chat the shopper returns to.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from agents.errors import ChatError
from agents.models import (
    CloseReason,
    Conversation,
    ConversationStatus,
    ShopperEmail,
    ShopperEmailDay,
    ShopperEmailStatus,
)
from agents.services.assignment import queue_drain
from agents.services.conversations import conversation_publish
from agents.tokens import email_resume_email_id
from cartassist.carts.models import ShopperEmailAddress, Site, Visitor
from cartassist.core import ports
from cartassist.core.locks import for_update


class EmailRefused(ChatError):
    """The email cannot be sent; ``code`` says why (docs/REALTIME.md lists the codes)."""

    def __init__(self, code: str, message: object) -> None:
        super().__init__(code, message)  # type: ignore[arg-type]


# --- who may get an email -----------------------------------------------------------------


def shopper_email_address(*, conversation: Conversation) -> str | None:
    """The deliverable address a signed server event gave the chat's cart (or, failing
    that, the newest one given to a cart of the same visitor), else None."""
    rows = ShopperEmailAddress.objects.filter(site_id=conversation.site_id)
    if conversation.cart_id is not None:
        own = rows.filter(cart_id=conversation.cart_id).values_list("address", flat=True).first()
        if own:
            return own
    return (
        rows.filter(visitor_id=conversation.visitor_id)
        .order_by("-recorded_at")
        .values_list("address", flat=True)
        .first()
    )


def visitor_opted_out(*, site_id: int, visitor_id: str) -> bool:
    return Visitor.objects.filter(
        site_id=site_id, external_id=visitor_id, opted_out_at__isnull=False
    ).exists()


def email_frequency_capped(*, site: Site, visitor_id: str, now: datetime) -> bool:
    """An email to this visitor within the site's frequency cap (``frequency_cap_hours``,
    the same cap as invitations), not counting emails that failed."""
    since = now - timedelta(hours=site.frequency_cap_hours)
    return (
        ShopperEmail.objects.filter(site=site, visitor_id=visitor_id, created_at__gt=since)
        .exclude(status=ShopperEmailStatus.FAILED)
        .exists()
    )


def site_local_day(site: Site, now: datetime) -> date:
    return now.astimezone(zoneinfo.ZoneInfo(site.timezone)).date()


def email_daily_count_consume(*, site: Site, now: datetime) -> bool:
    """Count one email against the site's daily limit (its local day), or refuse.

    One conditional UPDATE (``sent + 1 WHERE sent < limit``), never read-decide-write
    (ADR 0007): two agents sending the last email of the day at once cannot both pass.
    The day's row is created first (insert-or-nothing)."""
    day = site_local_day(site, now)
    if site.email_daily_limit <= 0:
        return False
    try:
        with transaction.atomic():
            ShopperEmailDay.objects.get_or_create(site=site, day=day)
    except IntegrityError:  # a concurrent first email of the day created it
        pass
    return bool(
        ShopperEmailDay.objects.filter(site=site, day=day, sent__lt=site.email_daily_limit).update(
            sent=F("sent") + 1
        )
    )


def shopper_email_record(
    *,
    conversation: Conversation,
    agent_id: int | None,
    language: str,
    link_base: str,
    now: datetime,
) -> ShopperEmail:
    """The row of an email about to be sent, queued; sent on commit by the caller's
    dispatch (port ``shopper_email_dispatch``)."""
    invitation = conversation.invitation
    assert invitation is not None  # checked by the caller
    email = ShopperEmail.objects.create(
        site_id=conversation.site_id,
        intervention_id=invitation.intervention_id,
        conversation=conversation,
        agent_id=agent_id,
        visitor_id=conversation.visitor_id,
        language=language,
        link_base=link_base.rstrip("/"),
        created_at=now,
    )
    email_id = email.pk
    transaction.on_commit(lambda: ports.shopper_email_dispatch.get()(email_id))
    return email


# --- sending: claim, outcome ---------------------------------------------------------------


def shopper_email_attempt_start(*, email_id: int) -> ShopperEmail | None:
    """Count an attempt on a queued email and return it, or None when it is not queued
    any more (sent, or given up): a repeated task sends nothing twice."""
    updated = ShopperEmail.objects.filter(pk=email_id, status=ShopperEmailStatus.QUEUED).update(
        attempts=F("attempts") + 1
    )
    if not updated:
        return None
    return ShopperEmail.objects.select_related(
        "site", "conversation", "conversation__invitation", "agent"
    ).get(pk=email_id)


def shopper_email_sent(*, email_id: int, message_id: str, now: datetime) -> None:
    ShopperEmail.objects.filter(pk=email_id, status=ShopperEmailStatus.QUEUED).update(
        status=ShopperEmailStatus.SENT, sent_at=now, message_id=message_id[:200], last_error=""
    )


def shopper_email_failed(*, email_id: int, error: str, final: bool) -> None:
    """Record a failed attempt; ``final``: give up (the email stays counted in the day)."""
    changes: dict[str, object] = {"last_error": error[:300]}
    if final:
        changes["status"] = ShopperEmailStatus.FAILED
    ShopperEmail.objects.filter(pk=email_id, status=ShopperEmailStatus.QUEUED).update(**changes)


# --- signed links (agents/tokens.py) ----------------------------------------------------------


def email_resume_verify(token: str) -> ShopperEmail | None:
    """The email a resume token names, or None when forged, malformed or expired."""
    email_id = email_resume_email_id(token)
    if email_id is None:
        return None
    return (
        ShopperEmail.objects.select_related("site", "conversation", "conversation__invitation")
        .filter(pk=email_id)
        .first()
    )


def shopper_unsubscribe(*, site_id: int, visitor_id: str, now: datetime) -> bool:
    """Opt the shopper out (``Visitor.opted_out_at``: no more invitations and no more
    emails) and delete the addresses kept for the visitor. Idempotent: the first
    opt-out's time stays. Returns whether the visitor was opted in until now."""
    with transaction.atomic():
        visitor, _created = Visitor.objects.get_or_create(site_id=site_id, external_id=visitor_id)
        changed = bool(
            Visitor.objects.filter(pk=visitor.pk, opted_out_at__isnull=True).update(
                opted_out_at=now
            )
        )
        ShopperEmailAddress.objects.filter(site_id=site_id, visitor_id=visitor_id).delete()
    return changed


def shopper_email_addresses_purge(*, now: datetime) -> int:
    """Delete deliverable addresses no signed event renewed within
    ``CARTASSIST_SHOPPER_EMAIL_RETENTION`` (docs/adr/0025); returns how many."""
    cutoff = now - settings.CARTASSIST_SHOPPER_EMAIL_RETENTION
    deleted, _rows = ShopperEmailAddress.objects.filter(recorded_at__lt=cutoff).delete()
    return deleted


# --- the shopper comes back -----------------------------------------------------------------


def conversation_resume(*, conversation_id: int, now: datetime) -> Conversation:
    """The shopper followed an email's link: a chat closed because the shopper timed out
    opens again in the queue (routed at once when an agent is free) and is marked seen;
    an open chat is only marked seen; any other closed chat stays closed."""
    with transaction.atomic():
        conversation = for_update(Conversation.objects.all()).get(pk=conversation_id)
        if conversation.status != ConversationStatus.CLOSED:
            Conversation.objects.filter(pk=conversation.pk).update(visitor_last_seen_at=now)
            return conversation
        if conversation.close_reason != CloseReason.VISITOR_TIMEOUT:
            return conversation
        conversation.status = ConversationStatus.QUEUED
        conversation.agent = None
        conversation.closed_at = None
        conversation.close_reason = ""
        conversation.visitor_last_seen_at = now
        conversation.save(
            update_fields=["status", "agent", "closed_at", "close_reason", "visitor_last_seen_at"]
        )
        conversation_publish(conversation)
        queue_drain(site_id=conversation.site_id, now=now)
    conversation.refresh_from_db()
    return conversation


def refusal(code: str) -> EmailRefused:
    """The refusal for ``code``, with its message (translated lazily)."""
    return EmailRefused(code, REFUSALS[code])


REFUSALS = {
    "not_found": _("No such conversation."),
    "no_invitation": _(
        "Only a chat opened from an invitation can be followed up by email "
        "(the email needs its verification code)."
    ),
    "shopper_present": _("The shopper is still here: answer in the chat."),
    "not_identified": _(
        "No email address is known for this shopper (it comes only from the shop's "
        "signed server events)."
    ),
    "opted_out": _("The shopper opted out of contact."),
    "frequency_cap": _("This shopper was emailed recently (the site's frequency cap)."),
    "daily_limit": _("The site's daily email limit is reached."),
    "sender_unverified": _(
        "The site has no verified sender address: an administrator sets and verifies "
        "it in the site's settings."
    ),
    "closed": _("This chat is over: the shopper ended it."),
}
