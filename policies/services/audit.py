"""The audit log: one entry per thing done (or refused) with an offer or a grant, written
in the transaction that does it (docs/POLICIES.md, "The audit log")."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from cartassist.carts.models import Cart
from policies.models import AuditAction, AuditEntry, Offer


def audit_record(
    *,
    action: AuditAction,
    site_id: int,
    actor: str,
    now: datetime,
    cart: Cart | None = None,
    offer: Offer | None = None,
    grant: Any = None,
    policy_version_id: int | None = None,
    kind: str = "",
    amount: Decimal | None = None,
    currency: str = "",
    outcome: str = "",
) -> AuditEntry:
    """Write one audit entry in the caller's transaction. The policy version, remedy kind,
    amount and currency default to the offer's; the actor and outcome are cut to fit."""
    return AuditEntry.objects.create(
        site_id=site_id,
        at=now,
        action=action,
        actor=actor[:120],
        cart=cart,
        offer=offer,
        grant=grant,
        policy_version_id=policy_version_id or (offer.policy_version_id if offer else None),
        kind=kind or (offer.kind if offer else ""),
        amount=amount if amount is not None else (offer.amount if offer else None),
        currency=currency or (offer.currency if offer else ""),
        outcome=outcome[:300],
    )
