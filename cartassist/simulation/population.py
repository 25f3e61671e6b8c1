"""The simulated population: its fixed shape, the options of a run, and the random draws."""

from __future__ import annotations

import random
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from cartassist.carts.models import FollowUpChannel, FollowUpReason, Stage

# --- the population (fixed: only the true rates and the size are options) ----------------

# Why the shopper stalls, and the share of shoppers each way.
STALL_MIX: list[tuple[str, float]] = [
    ("shipping_shock", 0.35),
    ("payment_failed", 0.15),
    ("coupon_rejected", 0.10),
    ("idle", 0.40),
]
# Shoppers per local hour of the day (relative weights): quiet at night, busy evenings.
HOURLY_TRAFFIC = [
    1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.4, 2.2, 2.6, 2.8, 3.0,
    3.2, 3.0, 2.8, 2.8, 3.0, 3.3, 3.8, 4.2, 4.3, 3.8, 2.8, 1.8,
]  # fmt: skip
# The simulated agents and their shifts (local hours, start inclusive, end exclusive):
# nobody is online from 23:00 to 08:00, so those stalls are suppressed.
AGENT_SHIFTS: list[tuple[str, int, int]] = [
    ("Robin (simulated)", 8, 16),
    ("Kim (simulated)", 12, 20),
    ("Jo (simulated)", 15, 23),
]
OPTED_OUT_SHARE = 0.01  # opted out of proactive chat earlier: suppressed
RETURNING_SHARE = 0.03  # an invited shopper back within the frequency cap: suppressed
DELIVERED_SHARE = 0.93  # the rest left before the widget showed the invitation
ACCEPT_SHARE = 0.45  # of delivered invitations
DISMISS_SHARE = 0.25  # of delivered invitations; the rest are ignored (they expire)
OFFER_ACCEPT_SHARE = 0.85  # of offers shown
NEW_CART_SHARE = 0.15  # converting shoppers who order on a new cart (same shopper)
# Reasons of helpdesk follow-ups: 45 % undesirable (the research), split three ways.
FOLLOW_UP_REASONS: list[tuple[str, float]] = [
    (FollowUpReason.NEEDED_CONFIRMATION, 0.20),
    (FollowUpReason.CHECKING_GENUINE, 0.12),
    (FollowUpReason.UNRESOLVED, 0.13),
    (FollowUpReason.OTHER, 0.55),
]
FOLLOW_UP_CHANNELS: list[tuple[str, float]] = [
    (FollowUpChannel.EMAIL, 0.45),
    (FollowUpChannel.PHONE, 0.35),
    (FollowUpChannel.SOCIAL, 0.10),
    (FollowUpChannel.OTHER, 0.10),
]
SHOCK_FEE = Decimal("9.90")
STANDARD_FEE = Decimal("4.90")

# A site the simulator creates: short, realistic stall thresholds.
SIMULATION_STALL_THRESHOLDS = {
    Stage.CART: timedelta(minutes=10),
    Stage.CONTACT: timedelta(minutes=5),
    Stage.SHIPPING: timedelta(minutes=3),
    Stage.PAYMENT: timedelta(minutes=3),
}
DEFAULT_SITE_NAME = "Simulated shop"
# The demo's analytics page shows the history of a site of its own, so that the live demo
# storefront (its site, agents, availability and console) is left exactly as it was.
DEMO_HISTORY_SITE_NAME = "Demo Storefront (simulated history)"
DEMO_HISTORY_SHOPPERS = 200

PRODUCTS = [
    ("SIM-MUG", "Enamel camp mug", Decimal("14.50")),
    ("SIM-PEN", "Brass pen", Decimal("24.00")),
    ("SIM-TEA", "Loose-leaf tea", Decimal("9.80")),
    ("SIM-BAG", "Canvas tote", Decimal("19.90")),
    ("SIM-LAMP", "Desk lamp", Decimal("42.00")),
    ("SIM-KNIFE", "Pocket knife", Decimal("36.50")),
]


@dataclass(frozen=True)
class SimulationConfig:
    shoppers: int = 2000
    days: int = 14
    invited_conversion: float = 0.30
    holdout_conversion: float = 0.18
    follow_up_rate: float = 0.25
    holdout_follow_up_rate: float = 0.05
    holdout_share: Decimal = Decimal("0.5")
    seed: int = 7

    def errors(self) -> list[str]:
        problems = []
        if self.shoppers < 1:
            problems.append("shoppers must be at least 1")
        if self.days < 1:
            problems.append("days must be at least 1")
        for name in (
            "invited_conversion",
            "holdout_conversion",
            "follow_up_rate",
            "holdout_follow_up_rate",
        ):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name.replace('_', '-')} must be between 0 and 1")
        if not Decimal(0) <= self.holdout_share <= Decimal(1):
            problems.append("holdout-share must be between 0 and 1")
        return problems


# Enough of an effect for 200 shoppers to show an interval above zero, usually.
DEMO_HISTORY_CONFIG = SimulationConfig(
    shoppers=DEMO_HISTORY_SHOPPERS, invited_conversion=0.35, holdout_conversion=0.17
)


# --- the draws ----------------------------------------------------------------------------


def weighted_pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    roll = rng.random() * sum(w for _, w in weighted)
    for value, weight in weighted:
        roll -= weight
        if roll < 0:
            return value
    return weighted[-1][0]


def random_delay(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=rng.uniform(low, high))


@dataclass
class SimulatedShopper:
    index: int
    arrival: datetime
    stall: str
    visitor_id: str
    cart_id: str
    opted_out: bool
    returning: bool
    subtotal: Decimal = Decimal(0)
    lines: list[dict[str, Any]] = field(default_factory=list)
    fee: Decimal | None = None


@dataclass
class RecentInvitation:
    """An invited shopper still inside the frequency cap (candidates to come back)."""

    visitor_id: str
    decided_at: datetime


def population_draw(
    rng: random.Random, *, config: SimulationConfig, first_day: date, tz: tzinfo, prefix: str
) -> list[SimulatedShopper]:
    """Every shopper's arrival and stall, drawn up front, oldest first."""
    hours = list(range(24))
    shoppers = []
    for index in range(config.shoppers):
        day = first_day + timedelta(days=rng.randrange(config.days))
        hour = rng.choices(hours, weights=HOURLY_TRAFFIC)[0]
        local = datetime.combine(day, time(hour), tzinfo=tz) + random_delay(rng, 0, 3599)
        shoppers.append(
            SimulatedShopper(
                index=index,
                arrival=local.astimezone(zoneinfo.ZoneInfo("UTC")),
                stall=weighted_pick(rng, STALL_MIX),
                visitor_id=f"{prefix}{index:05d}",
                cart_id=f"{prefix}{index:05d}-1",
                opted_out=rng.random() < OPTED_OUT_SHARE,
                returning=rng.random() < RETURNING_SHARE,
            )
        )
    shoppers.sort(key=lambda s: (s.arrival, s.index))
    return shoppers


def basket_fill(rng: random.Random, shopper: SimulatedShopper) -> None:
    """Lines and subtotal to fit the stall: a shipping shock needs the 9.90 fee to be a
    large share of a modest cart (and the demo policy a cart of 30 or more)."""
    low, high = (
        (Decimal("30"), Decimal("60"))
        if shopper.stall == "shipping_shock"
        else (Decimal("35"), Decimal("160"))
    )
    lines: list[dict[str, Any]] = []
    subtotal = Decimal(0)
    while subtotal < low or not lines:
        sku, name, price = PRODUCTS[rng.randrange(len(PRODUCTS))]
        if lines and subtotal + price > high:
            break
        lines.append({"sku": sku, "name": name, "quantity": 1, "unit_price": str(price)})
        subtotal += price
    shopper.lines, shopper.subtotal = lines, subtotal
    shopper.fee = SHOCK_FEE if shopper.stall == "shipping_shock" else STANDARD_FEE
