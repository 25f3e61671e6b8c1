"""Stall deadline, classification and urgency (docs/ARCHITECTURE.md, "Detect")."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

STAGE_ORDER = ("cart", "contact", "shipping", "payment")


class Reason(enum.Enum):
    SHIPPING_SHOCK = "shipping_shock"
    PAYMENT_FAILED = "payment_failed"
    COUPON_REJECTED = "coupon_rejected"
    IDLE = "idle"


@dataclass(frozen=True, slots=True)
class RuleSnapshot:
    inactivity_threshold: timedelta
    minimum_cart_value: Decimal
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class CartSnapshot:
    stage: str
    subtotal: Decimal
    shipping_fee: Decimal | None
    signal: str  # "", "shipping_quoted", "payment_failed", "coupon_rejected"
    last_activity_at: datetime

    @classmethod
    def of(cls, cart: Any) -> CartSnapshot:
        """The snapshot of any object with these attributes (a Cart row, say)."""
        return cls(
            stage=cart.stage,
            subtotal=cart.subtotal,
            shipping_fee=cart.shipping_fee,
            signal=cart.signal,
            last_activity_at=cart.last_activity_at,
        )


def stall_deadline(
    *, stage: str, subtotal: Decimal, last_activity_at: datetime, rule: RuleSnapshot | None
) -> datetime | None:
    """When a cart at ``stage`` stalls, or None when no enabled rule applies to it."""
    if rule is None or not rule.enabled or subtotal < rule.minimum_cart_value:
        return None
    return last_activity_at + rule.inactivity_threshold


def classify_stall(cart: CartSnapshot, *, shipping_shock_ratio: Decimal) -> Reason:
    """Why the cart most likely stalled, from its most recent signal.

    1. A failed payment or a rejected coupon is the reason when it is the latest signal.
    2. A delivery charge just quoted that is at least ``shipping_shock_ratio`` of the
       subtotal (or any charge on an empty subtotal) is a shipping shock.
    3. Otherwise the shopper is idle at their step.
    """
    if cart.signal == "payment_failed":
        return Reason.PAYMENT_FAILED
    if cart.signal == "coupon_rejected":
        return Reason.COUPON_REJECTED
    fee = cart.shipping_fee
    if (
        cart.signal == "shipping_quoted"
        and fee is not None
        and fee > 0
        and (cart.subtotal <= 0 or fee / cart.subtotal >= shipping_shock_ratio)
    ):
        return Reason.SHIPPING_SHOCK
    return Reason.IDLE


_REASON_POINTS = {
    Reason.PAYMENT_FAILED: 40,
    Reason.SHIPPING_SHOCK: 35,
    Reason.COUPON_REJECTED: 25,
    Reason.IDLE: 10,
}
_STAGE_POINTS = {"cart": 0, "contact": 10, "shipping": 20, "payment": 30}


@dataclass(frozen=True, slots=True)
class UrgencyFactors:
    """The parts of an urgency score, so that an agent can be told why a chat is urgent."""

    reason_points: int  # ≤ 40: how much the stall reason hurts
    stage_points: int  # ≤ 30: how far into checkout the shopper got
    value_points: int  # ≤ 30: the cart's value (log scale)

    @property
    def score(self) -> int:
        return min(100, self.reason_points + self.stage_points + self.value_points)


def urgency_factors(*, reason: Reason, stage: str, cart_value: Decimal) -> UrgencyFactors:
    """The three parts of ``score_urgency``, each with its points.

    Value points grow with log10 of the value, so a 1,000 cart outranks a 10 cart without
    a 100,000 cart drowning everything else: 10 → 8, 100 → 15, 1,000 → 22, ≥10,000 → 30.
    """
    value_points = 0
    if cart_value > 0:
        value_points = min(30, max(0, round(7.5 * math.log10(float(cart_value) + 1) - 0.3)))
    return UrgencyFactors(
        reason_points=_REASON_POINTS[reason],
        stage_points=_STAGE_POINTS.get(stage, 0),
        value_points=value_points,
    )


def score_urgency(*, reason: Reason, stage: str, cart_value: Decimal) -> int:
    """0–100: the reason (≤40) + how far into checkout (≤30) + the cart's value (≤30)
    (``urgency_factors``)."""
    return urgency_factors(reason=reason, stage=stage, cart_value=cart_value).score


def later_stage(a: str, b: str) -> str:
    return a if STAGE_ORDER.index(a) >= STAGE_ORDER.index(b) else b
