"""Follow-up contacts: the shopper contacted the shop after outreach.

Two sources: the shop's helpdesk reports a contact (signed API), and a chat the shopper
starts themselves. Each contact is stored once per key and credited to the most recent
invited (or held-out) intervention of that shopper within the site's follow-up window
(cartassist/domain/attribution.py), so the follow-up rate after outreach can be compared
with the control group's.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from agents.errors import ChatError
from agents.models import AgentProfile
from agents.services.conversations import conversation_for_agent
from cartassist.carts.models import (
    Cart,
    Decision,
    FollowUpChannel,
    FollowUpContact,
    FollowUpReason,
    FollowUpSource,
    Intervention,
    Site,
)
from cartassist.carts.services.shoppers import cart_identities, shopper_cart_filter
from cartassist.core.locks import for_update
from cartassist.outcomes.services.outcomes import outcomes_refresh_for_carts


def _shopper_cart_ids(site: Site, *, visitor_id: str, customer_id: str) -> list[int]:
    query = Q(pk__in=[])
    if visitor_id:
        query |= Q(visitor_id=visitor_id)
    if customer_id:
        query |= Q(customer_id=customer_id)
    return list(Cart.objects.filter(query, site=site).values_list("pk", flat=True)[:500])


def follow_up_report(
    *,
    site: Site,
    key: str,
    channel: str,
    reason: str,
    visitor_id: str,
    customer_id: str,
    occurred_at: datetime,
    note: str,
    now: datetime,
) -> tuple[FollowUpContact, bool]:
    """Store a contact reported by the helpdesk (once per ``key``) and credit it.

    Returns ``(contact, created)``; the same key again returns the stored contact
    unchanged, so a helpdesk can safely retry.
    """
    with transaction.atomic():
        contact, created = FollowUpContact.objects.get_or_create(
            site=site,
            key=key,
            defaults={
                "source": FollowUpSource.HELPDESK,
                "channel": channel,
                "reason": reason,
                "visitor_id": visitor_id,
                "customer_id": customer_id,
                "occurred_at": occurred_at,
                "received_at": now,
                "note": note,
            },
        )
        if created:
            cart_ids = _shopper_cart_ids(site, visitor_id=visitor_id, customer_id=customer_id)
            _credit(contact, cart_ids=cart_ids, now=now)
    return contact, created


def follow_up_record_chat(*, conversation: Any, now: datetime) -> FollowUpContact | None:
    """Record a chat the shopper started as a follow-up contact, when it came within the
    follow-up window of an invited or held-out intervention of that shopper."""
    site = Site.objects.get(pk=conversation.site_id)
    window = timedelta(days=site.follow_up_window_days)
    # The whole shopper: an outreach on any of their carts, however they are linked.
    query, _ = shopper_cart_filter(
        site_id=site.pk, keys=cart_identities(visitor_id=conversation.visitor_id)
    )
    cart_ids = list(Cart.objects.filter(query, site=site).values_list("pk", flat=True)[:500])
    recent = Intervention.objects.filter(
        site=site,
        cart_id__in=cart_ids,
        decision__in=[Decision.INVITED, Decision.HELD_OUT],
        decided_at__gte=conversation.created_at - window,
        decided_at__lte=conversation.created_at,
    )
    if not recent.exists():
        return None
    with transaction.atomic():
        contact, created = FollowUpContact.objects.get_or_create(
            site=site,
            key=f"chat:{conversation.pk}",
            defaults={
                "source": FollowUpSource.CHAT,
                "channel": FollowUpChannel.CHAT,
                "reason": FollowUpReason.OTHER,
                "visitor_id": conversation.visitor_id,
                "occurred_at": conversation.created_at,
                "received_at": now,
                "conversation": conversation,
                "note": "The shopper started a chat.",
            },
        )
        if created:
            _credit(contact, cart_ids=cart_ids, now=now)
    return contact


def _credit(contact: FollowUpContact, *, cart_ids: list[int], now: datetime) -> None:
    """Attribute the contact and refresh the follow-up counts of the shopper's outcomes
    (the refresh credits every contact of the shopper's carts, this one included)."""
    if cart_ids:
        outcomes_refresh_for_carts(cart_ids=cart_ids, now=now)
        contact.refresh_from_db(fields=["intervention"])


def follow_up_classify(
    *, conversation_id: int, agent: AgentProfile, reason: str, now: datetime
) -> FollowUpContact:
    """The agent says why the shopper came back (console ``follow_up.classify``).

    1. ``reason`` must be a ``FollowUpReason`` (else ``invalid_frame`` on ``reason``).
    2. The agent must be allowed to act on the conversation, as for every console action
       (``conversation_for_agent``: theirs, or any of their site's for a supervisor);
       another agent's chat looks like a missing one (``not_found``).
    3. The conversation must be a follow-up contact (``no_follow_up``).
    4. Store the reason (closed chats too: agents often classify when they close).

    Nothing else changes: the per-intervention ``follow_ups`` count does not depend on
    the reason, and analytics reads reasons from ``FollowUpContact`` itself, so no
    outcome needs a refresh. Returns the contact with its intervention loaded.
    """
    if reason not in FollowUpReason.values:
        raise ChatError(
            "invalid_frame",
            format_lazy(
                _("reason must be one of {choices}."), choices=", ".join(FollowUpReason.values)
            ),
            field="reason",
        )
    conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    with transaction.atomic():
        contact = (
            for_update(FollowUpContact.objects.select_related("intervention"))
            .filter(conversation=conversation)
            .first()
        )
        if contact is None:
            raise ChatError(
                "no_follow_up",
                _("This chat is not a follow-up after outreach: nothing to classify."),
            )
        if contact.reason != reason:
            contact.reason = reason
            contact.save(update_fields=["reason"])
    return contact
