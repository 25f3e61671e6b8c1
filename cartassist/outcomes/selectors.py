"""Read models for the shop backend: one intervention's whole story (docs/API.md,
"Intervention outcomes").

Selectors only read. Amounts are decimal strings in their own currency, timestamps are
ISO 8601 in UTC, so the result is the JSON body as it is sent.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet

from cartassist.carts.models import Cart, FollowUpContact, Intervention
from cartassist.domain.outcomes import SHOWN_OFFER_STATUSES
from cartassist.domain.webhooks import json_safe
from policies.engine.money import quantize
from policies.models import Grant, Offer


def intervention_outcome(*, site_id: int, intervention_id: int) -> dict[str, Any] | None:
    """One intervention of the site, with its outcome; None when the site has none with
    this id (another site's intervention is not told apart from a missing one)."""
    outcomes = _outcomes(Intervention.objects.filter(site_id=site_id, pk=intervention_id))
    return outcomes[0] if outcomes else None


def cart_intervention_outcomes(*, site_id: int, cart_id: str) -> list[dict[str, Any]] | None:
    """Every intervention on the site's cart ``cart_id`` (the shop's id), newest first;
    None when the site has no such cart."""
    cart = Cart.objects.filter(site_id=site_id, external_id=cart_id).only("pk").first()
    if cart is None:
        return None
    return _outcomes(Intervention.objects.filter(site_id=site_id, cart=cart))


def _outcomes(interventions: QuerySet[Intervention]) -> list[dict[str, Any]]:
    """Four queries whatever the number: interventions (with cart, invitation, chat and
    agent), offers, grants, follow-up contacts."""
    rows = list(
        interventions.select_related("cart", "agent", "invitation__conversation").order_by(
            "-decided_at", "-pk"
        )
    )
    conversation_of = {i.pk: _conversation_id(i) for i in rows}
    conversation_ids = [c for c in conversation_of.values() if c is not None]
    offers: dict[int, list[Any]] = defaultdict(list)
    for offer in Offer.objects.filter(
        conversation_id__in=conversation_ids, status__in=sorted(SHOWN_OFFER_STATUSES)
    ).order_by("created_at", "pk"):
        offers[offer.conversation_id].append(offer)
    grants: dict[int, list[Any]] = defaultdict(list)
    for grant in (
        Grant.objects.filter(offer__conversation_id__in=conversation_ids)
        .select_related("offer")
        .order_by("issued_at", "pk")
    ):
        grants[grant.offer.conversation_id].append(grant)
    follow_ups: dict[int, list[FollowUpContact]] = defaultdict(list)
    for contact in FollowUpContact.objects.filter(
        intervention_id__in=[i.pk for i in rows]
    ).order_by("occurred_at", "pk"):
        if contact.intervention_id is not None:
            follow_ups[contact.intervention_id].append(contact)
    return [
        _outcome(
            i,
            offers.get(conversation_of[i.pk] or 0, []),
            grants.get(conversation_of[i.pk] or 0, []),
            follow_ups.get(i.pk, []),
        )
        for i in rows
    ]


def _conversation_id(intervention: Intervention) -> int | None:
    try:
        return intervention.invitation.conversation.pk
    except ObjectDoesNotExist:  # no invitation, or an invitation never accepted
        return None


def _money(amount: Decimal | None, currency: str) -> str | None:
    return None if amount is None else str(quantize(amount, currency))


def _time(moment: datetime | None) -> str | None:
    return json_safe(moment) if moment is not None else None


def _outcome(
    i: Intervention, offers: list[Any], grants: list[Any], follow_ups: list[FollowUpContact]
) -> dict[str, Any]:
    currency = i.currency
    chatted = _conversation_id(i) is not None
    return {
        "id": i.pk,
        "cart_id": i.cart.external_id,
        "visitor_id": i.visitor_id,
        "trigger": i.trigger,
        "decided_at": _time(i.decided_at),
        "decision": i.decision,
        "suppression_reason": i.suppression_reason,
        "stall_reason": i.stall_reason,
        "stage": i.stage,
        "urgency": i.urgency,
        "cart_value": _money(i.cart_value, currency),
        "currency": currency,
        "invitation_result": i.invitation_result,
        "chat": {
            "agent": i.agent.display_name if i.agent else None,
            "first_response_seconds": i.first_response_seconds,
            "duration_seconds": i.chat_duration_seconds,
            "visitor_messages": i.visitor_messages,
            "agent_messages": i.agent_messages,
        }
        if chatted
        else None,
        "offers": [
            {
                "id": o.pk,
                "kind": o.kind,
                "amount": _money(o.amount, o.currency),
                "currency": o.currency,
                "status": o.status,
                "total_before": _money(o.total_before, o.currency),
                "total_after": _money(o.total_after, o.currency),
                "offered_at": _time(o.created_at),
                "responded_at": _time(o.responded_at),
            }
            for o in offers
        ],
        "grants": [
            {
                "grant_id": g.token_id,
                "offer_id": g.offer_id,
                "kind": g.kind,
                "amount": _money(g.amount, g.currency),
                "currency": g.currency,
                "issued_at": _time(g.issued_at),
                "expires_at": _time(g.expires_at),
                "redeemed_at": _time(g.redeemed_at),
                "order_id": g.order_id,
            }
            for g in grants
        ],
        "conversion": {
            "converted": i.converted,
            "order_id": i.order_id,
            "converted_at": _time(i.converted_at),
            "attribution": i.attribution,
        },
        "revenue": _money(i.revenue, currency),
        "granted_amount": _money(i.granted_amount, currency),
        "remedy_cost": _money(i.remedy_cost, currency),
        "net_revenue": _money(i.net_revenue, currency),
        "follow_ups": [
            {
                "id": c.key,
                "source": c.source,
                "channel": c.channel,
                "reason": c.reason,
                "occurred_at": _time(c.occurred_at),
            }
            for c in follow_ups
        ],
        "outcome_final": i.outcome_final,
        "outcome_updated_at": _time(i.outcome_updated_at),
    }
