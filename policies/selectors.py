"""Read-only queries for the console and admin."""

from __future__ import annotations

from typing import Any

from policies.models import Offer, OfferStatus
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
