"""Engine inputs and outputs: frozen snapshots in, decisions out. Standard library only."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from .money import Money


class RemedyKind(enum.Enum):
    WAIVE_DELIVERY = "waive_delivery"
    REDUCE_DELIVERY = "reduce_delivery"
    DISCOUNT = "discount"
    FREE_GIFT = "free_gift"
    HOLD_STOCK = "hold_stock"

    @property
    def is_monetary(self) -> bool:
        return self is not RemedyKind.HOLD_STOCK


class Segment(enum.Enum):
    NEW = "new"
    RETURNING = "returning"
    VIP = "vip"


class Stacking(enum.Enum):
    EXCLUSIVE = "exclusive"
    COMBINABLE = "combinable"


# --- the policy (one immutable version) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Conditions:
    """Which carts a policy applies to. Empty sets mean "any"."""

    min_cart_value: Decimal | None = None
    max_cart_value: Decimal | None = None
    stages: frozenset[str] = frozenset()
    stall_reasons: frozenset[str] = frozenset()
    segments: frozenset[Segment] = frozenset()
    countries: frozenset[str] = frozenset()
    include_categories: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()
    include_skus: frozenset[str] = frozenset()
    exclude_skus: frozenset[str] = frozenset()
    min_delivery_charge: Decimal | None = None


@dataclass(frozen=True, slots=True)
class RemedySpec:
    """One remedy a policy allows, with its own bound.

    - waive_delivery: up to the whole delivery charge, capped by ``max_amount`` if set;
    - reduce_delivery / discount: up to ``max_percent`` of the delivery charge / cart
      value and/or up to ``max_amount`` (the smaller applies);
    - free_gift: ``gift_sku`` worth ``gift_value`` (counted against budgets);
    - hold_stock: ``hold_hours`` (non-monetary).
    """

    kind: RemedyKind
    max_percent: Decimal | None = None
    max_amount: Decimal | None = None
    gift_sku: str = ""
    gift_value: Decimal | None = None
    hold_hours: int | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    max_per_offer: Decimal | None = None
    daily_budget: Decimal | None = None
    monthly_budget: Decimal | None = None
    per_agent_daily_cap: Decimal | None = None
    once_per_customer_days: int | None = None
    approval_above: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PolicySpec:
    version_id: int
    policy_id: int
    name: str
    currency: str
    priority: int = 100
    active: bool = True
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    conditions: Conditions = field(default_factory=Conditions)
    remedies: tuple[RemedySpec, ...] = ()
    limits: Limits = field(default_factory=Limits)
    stacking: Stacking = Stacking.COMBINABLE


# --- the situation ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CartLine:
    sku: str
    quantity: int
    unit_price: Decimal
    category: str = ""


@dataclass(frozen=True, slots=True)
class CartFacts:
    value: Decimal
    currency: str
    stage: str
    delivery_charge: Decimal | None = None
    lines: tuple[CartLine, ...] = ()
    country: str = ""


@dataclass(frozen=True, slots=True)
class ShopperFacts:
    segment: Segment = Segment.NEW
    # policy_id → when this shopper (all their carts and visitor ids) last got a grant.
    last_granted_at: tuple[tuple[int, datetime], ...] = ()
    flagged_for_farming: bool = False


@dataclass(frozen=True, slots=True)
class AgentFacts:
    agent_id: int
    is_supervisor: bool = False


@dataclass(frozen=True, slots=True)
class PolicySpend:
    """What a policy has already spent or reserved (its budget counters)."""

    today: Decimal = Decimal(0)
    month: Decimal = Decimal(0)
    agent_today: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class ExistingRemedy:
    """A remedy already offered or granted for this cart (for stacking)."""

    kind: RemedyKind
    exclusive: bool


@dataclass(frozen=True, slots=True)
class EvaluationContext:
    cart: CartFacts
    shopper: ShopperFacts
    stall_reason: str
    agent: AgentFacts
    now: datetime
    # policy_id → spend so far; a policy missing here has spent nothing.
    spend: tuple[tuple[int, PolicySpend], ...] = ()
    existing: tuple[ExistingRemedy, ...] = ()

    def spend_for(self, policy_id: int) -> PolicySpend:
        for pid, spend in self.spend:
            if pid == policy_id:
                return spend
        return PolicySpend()

    def last_grant_for(self, policy_id: int) -> datetime | None:
        for pid, at in self.shopper.last_granted_at:
            if pid == policy_id:
                return at
        return None


# --- the answer ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a remedy is not allowed: data first, prose from ``message()``.

    ``code`` names the rule; ``field``, ``required`` and ``actual`` carry the values, so
    tests assert on data, not on sentences.
    """

    code: str
    policy_name: str = ""
    field: str = ""
    required: str = ""
    actual: str = ""

    def message(self) -> str:
        templates = {
            "no_policy": "No active policy offers this remedy.",
            "inactive": "Policy “{policy}” is switched off.",
            "not_yet_valid": "Policy “{policy}” applies from {required}.",
            "expired": "Policy “{policy}” ended on {required}.",
            "currency": "Policy “{policy}” is in {required}; this cart is in {actual}.",
            "below_min_value": "Cart {actual} is below the {required} policy “{policy}” requires.",
            "above_max_value": "Cart {actual} is above the {required} policy “{policy}” allows.",
            "stage": "Policy “{policy}” applies at {required}, not at {actual}.",
            "stall_reason": "Policy “{policy}” applies to {required} stalls, not to {actual}.",
            "segment": "Policy “{policy}” is for {required} customers; this shopper is {actual}.",
            "country": "Policy “{policy}” ships to {required}, not to {actual}.",
            "category_excluded": "The cart holds {actual}, which policy “{policy}” excludes.",
            "category_required": "Policy “{policy}” needs an item from {required}.",
            "sku_excluded": "The cart holds {actual}, which policy “{policy}” excludes.",
            "sku_required": "Policy “{policy}” needs one of {required} in the cart.",
            "no_delivery_charge": "There is no delivery charge to reduce.",
            "below_min_delivery": "Delivery charge {actual} is below the {required} policy “{policy}” requires.",
            "budget_daily": "Policy “{policy}”’s daily budget is used up ({actual} of {required}).",
            "budget_monthly": "Policy “{policy}”’s monthly budget is used up ({actual} of {required}).",
            "agent_cap": "You have used your daily {required} under policy “{policy}”.",
            "once_per_customer": "This customer already got a remedy under policy “{policy}” on {actual}; once every {required} days.",
            "exclusive_taken": "An exclusive remedy was already offered for this cart.",
            "not_combinable": "Policy “{policy}”’s remedy is exclusive, and another remedy was already offered.",
            "already_offered": "This remedy was already offered for this cart.",
            "delivery_waived": "The delivery charge is already waived for this cart (or a "
            "waiver is on offer).",
            "gift_over_limit": "The gift is worth {actual}; policy “{policy}” leaves {required} for it.",
            "zero_bound": "Policy “{policy}” leaves nothing to offer here ({actual}).",
        }
        template = templates.get(self.code, "Not allowed ({code}).")
        return template.format(
            policy=self.policy_name, required=self.required, actual=self.actual, code=self.code
        )


@dataclass(frozen=True, slots=True)
class Allowed:
    kind: RemedyKind
    policy_version_id: int
    policy_id: int
    policy_name: str
    bound: Money | None  # the most that may be offered (None: non-monetary)
    exclusive: bool
    approval_above: Money | None = None  # offers above this need a supervisor
    gift_sku: str = ""
    hold_hours: int | None = None

    allowed = True


@dataclass(frozen=True, slots=True)
class NotAllowed:
    kind: RemedyKind
    reason: Reason

    allowed = False


RemedyDecision = Allowed | NotAllowed


@dataclass(frozen=True, slots=True)
class Evaluation:
    decisions: tuple[RemedyDecision, ...]

    def for_kind(self, kind: RemedyKind) -> RemedyDecision:
        for decision in self.decisions:
            if decision.kind is kind:
                return decision
        raise KeyError(kind)
