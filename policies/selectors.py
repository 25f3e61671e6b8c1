"""Read-only queries for the console and admin."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.utils import timezone

from policies.models import (
    AuditEntry,
    BudgetCounter,
    BudgetPeriod,
    Grant,
    Offer,
    OfferStatus,
    Policy,
    PolicyVersion,
)
from policies.services.context import period_starts
from policies.services.offers import offer_payload


def pending_approvals(*, site_id: int) -> list[dict[str, Any]]:
    """Offers waiting for a supervisor, oldest first, with who asked and under which policy."""
    offers = (
        Offer.objects.filter(site_id=site_id, status=OfferStatus.PENDING_APPROVAL)
        .select_related("agent", "policy_version__policy", "cart")
        .order_by("created_at")
    )
    return [
        {
            **offer_payload(o),
            "agent_name": o.agent.display_name,
            "policy_name": o.policy_version.policy.name,
            "policy_version": o.policy_version.number,
            "cart_external_id": o.cart.external_id,
        }
        for o in offers
    ]


def conversation_offers(*, conversation_id: int) -> list[dict[str, Any]]:
    return [
        offer_payload(o)
        for o in Offer.objects.filter(conversation_id=conversation_id).order_by("created_at")
    ]


def budget_usage(policy: Policy, *, now: Any = None) -> dict[str, Decimal]:
    """The policy's spend (reserved + granted) today and this month, in its site's time
    zone. Uses ``policy.recent_counters`` when the changelist prefetched them."""
    today, month = period_starts(now or timezone.now(), policy.site.timezone)
    counters: Iterable[BudgetCounter] = getattr(policy, "recent_counters", None) or (
        policy.budget_counters.filter(agent_key=0, period_start__gte=month)
    )
    spend = {"today": Decimal(0), "month": Decimal(0)}
    for counter in counters:
        if counter.agent_key != 0:
            continue
        if counter.period == BudgetPeriod.DAY and counter.period_start == today:
            spend["today"] = counter.spent
        elif counter.period == BudgetPeriod.MONTH and counter.period_start == month:
            spend["month"] = counter.spent
    return spend


def policy_in_use(policy: Policy) -> bool:
    """Offers, grants or audit entries name one of its versions: it must stay."""
    versions = PolicyVersion.objects.filter(policy=policy)
    return (
        Offer.objects.filter(policy_version__in=versions).exists()
        or Grant.objects.filter(policy_version__in=versions).exists()
        or AuditEntry.objects.filter(policy_version__in=versions).exists()
    )
