"""How a follow-up contact ended, and its ``follow_up.reported`` webhook (docs/API.md,
"POST /api/v1/server/follow-ups"; docs/WEBHOOKS.md).

The helpdesk reports a contact once per id (``services/followups.py::follow_up_report``)
and may report later, by re-posting the same id, how it ended: ``self_served`` (the
outreach lookup answered the shopper, e.g. the phone menu; a *deflected* contact) or
``agent`` (handed to a person). Only that field changes on a re-post; the last
resolution reported stands. A contact may also name the shopper by an email or phone
number that signed events gave a cart: they are matched by keyed hash and never stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from cartassist.carts.models import Cart, FollowUpContact, Site
from cartassist.carts.services.contact_identities import contact_cart_ids
from cartassist.domain.webhooks import json_safe
from cartassist.outcomes.services.followups import follow_up_report
from cartassist.webhooks.models import WebhookEvent
from cartassist.webhooks.services import webhooks_emit


def shopper_ids_by_contact(*, site_id: int, email: str, phone: str) -> tuple[str, str]:
    """``(visitor_id, customer_id)`` of the newest cart an email (else a phone number,
    both normalised) was given for; empty strings when none was."""
    for kind, value in (("email", email), ("phone", phone)):
        if value:
            cart_ids = contact_cart_ids(site_id=site_id, kind=kind, normalised=value, limit=1)
            cart = Cart.objects.filter(site_id=site_id, pk__in=cart_ids).first()
            if cart is not None:
                return cart.visitor_id, cart.customer_id
    return "", ""


def follow_up_webhook_data(contact: FollowUpContact) -> dict[str, Any]:
    """The ``data`` of ``follow_up.reported`` (docs/WEBHOOKS.md)."""
    return {
        "follow_up_id": contact.key,
        "intervention_id": contact.intervention_id,
        "visitor_id": contact.visitor_id,
        "customer_id": contact.customer_id,
        "channel": contact.channel,
        "reason": contact.reason,
        "resolution": contact.resolution or None,
        "occurred_at": json_safe(contact.occurred_at),
        "resolution_reported_at": json_safe(contact.resolution_reported_at)
        if contact.resolution_reported_at
        else None,
    }


def follow_up_report_with_resolution(
    *,
    site: Site,
    key: str,
    channel: str,
    reason: str,
    visitor_id: str,
    customer_id: str,
    email: str,
    phone: str,
    resolution: str,
    occurred_at: datetime,
    note: str,
    now: datetime,
) -> tuple[FollowUpContact, bool, bool]:
    """Report a contact, or how a reported one ended; ``(contact, created, changed)``.

    1. Ids the helpdesk did not send are taken from the shopper an email or phone names
       (``shopper_ids_by_contact``); the email and phone themselves are not kept.
    2. ``follow_up_report`` stores the contact once per ``key`` and credits it.
    3. A ``resolution`` different from the stored one replaces it, in one conditional
       UPDATE (``changed``): concurrent reports of one resolution change it once.
    4. ``follow_up.reported`` is queued when the contact is new (with its resolution, if
       any) and each time its resolution changes; never for a repeat that changed nothing.
    """
    if (email or phone) and not (visitor_id and customer_id):
        found_visitor, found_customer = shopper_ids_by_contact(
            site_id=site.pk, email=email, phone=phone
        )
        visitor_id = visitor_id or found_visitor
        customer_id = customer_id or found_customer
    with transaction.atomic():
        contact, created = follow_up_report(
            site=site,
            key=key,
            channel=channel,
            reason=reason,
            visitor_id=visitor_id,
            customer_id=customer_id,
            occurred_at=occurred_at,
            note=note,
            now=now,
        )
        changed = bool(resolution) and bool(
            FollowUpContact.objects.filter(pk=contact.pk)
            .exclude(resolution=resolution)
            .update(resolution=resolution, resolution_reported_at=now)
        )
        if changed:
            contact.refresh_from_db(fields=["resolution", "resolution_reported_at"])
        if created or changed:
            webhooks_emit(
                site_id=site.pk,
                event=WebhookEvent.FOLLOW_UP_REPORTED,
                dedupe_key=f"follow_up:{contact.pk}:{contact.resolution or 'new'}:"
                f"{int(now.timestamp() * 1000)}",
                data=follow_up_webhook_data(contact),
                now=now,
            )
    return contact, created, changed
