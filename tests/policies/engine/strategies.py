"""Hypothesis strategies for the policy engine: policies, situations, and tightenings.

Values are drawn from small alphabets (three SKUs, three categories, the real stages and
stall reasons) so that conditions match often enough for ``Allowed`` decisions to be
common; amounts are exact in their currency, as ``validate_spec`` and ingestion make them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from policies.engine import (
    AgentFacts,
    CartFacts,
    CartLine,
    Conditions,
    EvaluationContext,
    ExistingRemedy,
    Limits,
    PolicySpec,
    PolicySpend,
    RemedyKind,
    RemedySpec,
    Segment,
    ShopperFacts,
    Stacking,
)
from policies.engine.money import CURRENCY_EXPONENTS
from policies.engine.spec import STAGES, STALL_REASONS

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

CURRENCIES = ["EUR", "JPY", "BHD"]  # 2, 0 and 3 decimal places
SKUS = ["SKU-A", "SKU-B", "SKU-C"]
CATEGORIES = ["shoes", "bags", "hats"]
COUNTRIES = ["DE", "FR", "NL"]

SET_CONDITIONS: dict[str, list[object]] = {
    "stages": sorted(STAGES),
    "stall_reasons": sorted(STALL_REASONS),
    "segments": list(Segment),
    "countries": COUNTRIES,
    "include_categories": CATEGORIES,
    "include_skus": SKUS,
}


# Strategies are built once and cached: building them inside every draw makes hypothesis
# validate them again each time, which dominated the run time.


@functools.cache
def amounts(currency: str, *, max_units: int = 300, low: int = 0) -> st.SearchStrategy[Decimal]:
    """Exact amounts in ``currency``: ``low`` minor units … ``max_units`` major units."""
    exponent = CURRENCY_EXPONENTS[currency]
    return st.integers(low, max_units * 10**exponent).map(lambda n: Decimal(n).scaleb(-exponent))


@functools.cache
def positive_amounts(currency: str, *, max_units: int = 300) -> st.SearchStrategy[Decimal]:
    return amounts(currency, max_units=max_units, low=1)


# Percentages in (0, 100]: whole, two decimals, and a hair below a round percentage. The
# last kind has more digits than Decimal's default 28-digit context keeps, so a product
# rounded half-even there lands on a whole minor unit: a bound must never be rounded up.
percents = st.one_of(
    st.integers(1, 100).map(Decimal),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100), places=2),
    st.sampled_from([10, 25, 50, 100]).map(lambda n: Decimal(n) - Decimal("1E-26")),
)


@functools.cache
def optional(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(st.none(), strategy)


@functools.cache
def rarely(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """None five times in six: a condition that is usually not set."""
    return st.one_of(*[st.none()] * 5, strategy)


@functools.cache
def usually(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """None once in four."""
    return st.one_of(strategy, strategy, strategy, st.none())


@functools.cache
def rare_subsets(values: tuple[object, ...]) -> st.SearchStrategy[frozenset[object]]:
    """Empty ("any") five times in six, else a non-empty subset."""
    some = st.frozensets(st.sampled_from(values), min_size=1, max_size=len(values))
    return st.one_of(*[st.just(frozenset())] * 5, some)


@functools.cache
@st.composite
def conditions(draw: st.DrawFn, currency: str) -> Conditions:
    """Each condition set only now and then, so that policies often apply."""
    low = draw(rarely(amounts(currency)))
    high = draw(rarely(amounts(currency, max_units=400)))
    if low is not None and high is not None and low > high:
        low, high = high, low
    include_categories = draw(rare_subsets(tuple(CATEGORIES)))
    exclude_categories = draw(rare_subsets(tuple(CATEGORIES))) - include_categories
    return Conditions(
        min_cart_value=low,
        max_cart_value=high,
        stages=draw(rare_subsets(tuple(sorted(STAGES)))),
        stall_reasons=draw(rare_subsets(tuple(sorted(STALL_REASONS)))),
        segments=draw(rare_subsets(tuple(Segment))),
        countries=draw(rare_subsets(tuple(COUNTRIES))),
        include_categories=include_categories,
        exclude_categories=exclude_categories,
        include_skus=draw(rare_subsets(tuple(SKUS))),
        exclude_skus=draw(rare_subsets(tuple(SKUS))),
        min_delivery_charge=draw(rarely(amounts(currency, max_units=30))),
    )


@functools.cache
@st.composite
def remedy(draw: st.DrawFn, kind: RemedyKind, currency: str) -> RemedySpec:
    """A remedy as ``validate_spec`` would accept it."""
    if kind is RemedyKind.WAIVE_DELIVERY:
        return RemedySpec(kind, max_amount=draw(optional(positive_amounts(currency))))
    if kind in (RemedyKind.REDUCE_DELIVERY, RemedyKind.DISCOUNT):
        percent = draw(optional(percents))
        amount = draw(optional(positive_amounts(currency)))
        if percent is None and amount is None:
            percent = draw(percents)
        return RemedySpec(kind, max_percent=percent, max_amount=amount)
    if kind is RemedyKind.FREE_GIFT:
        return RemedySpec(
            kind, gift_sku=draw(st.sampled_from(SKUS)), gift_value=draw(amounts(currency))
        )
    return RemedySpec(kind, hold_hours=draw(st.integers(1, 168)))


@functools.cache
@st.composite
def limits(draw: st.DrawFn, currency: str) -> Limits:
    return Limits(
        max_per_offer=draw(optional(positive_amounts(currency, max_units=60))),
        daily_budget=draw(optional(positive_amounts(currency, max_units=500))),
        monthly_budget=draw(optional(positive_amounts(currency, max_units=2000))),
        per_agent_daily_cap=draw(optional(positive_amounts(currency, max_units=100))),
        once_per_customer_days=draw(optional(st.integers(1, 60))),
        approval_above=draw(optional(amounts(currency))),
    )


@functools.cache
def moments(earliest: int = -72, latest: int = 72) -> st.SearchStrategy[datetime]:
    """Whole hours around NOW (from ``earliest`` to ``latest`` hours); NOW itself, the
    boundary of a validity window, one time in three when it is in range."""
    hours = st.integers(earliest, latest)
    if earliest <= 0 <= latest:
        hours = st.one_of(st.just(0), hours, hours)
    return hours.map(lambda h: NOW + timedelta(hours=h))


KIND_LISTS = st.lists(st.sampled_from(list(RemedyKind)), min_size=1, max_size=5, unique=True)


@functools.cache
@st.composite
def policy_specs(draw: st.DrawFn, *, policy_id: int, currency: str) -> PolicySpec:
    """A policy as ``validate_spec`` would build it, usually in force."""
    kinds = draw(KIND_LISTS)
    valid_from = draw(rarely(moments()))
    valid_until = draw(rarely(moments()))
    if valid_from is not None and valid_until is not None and valid_from >= valid_until:
        valid_until = valid_from + timedelta(hours=1)
    return PolicySpec(
        version_id=policy_id * 10 + draw(st.integers(0, 9)),
        policy_id=policy_id,
        name=f"Policy {policy_id}",
        # now and then in another currency than the cart's
        currency=draw(st.sampled_from([currency] * 9 + CURRENCIES)),
        priority=draw(st.sampled_from([10, 50, 100])),  # few values: ties are common
        active=draw(st.sampled_from([True] * 7 + [False])),
        valid_from=valid_from,
        valid_until=valid_until,
        conditions=draw(st.one_of(st.just(Conditions()), conditions(currency))),
        remedies=tuple(draw(remedy(kind, currency)) for kind in kinds),
        limits=draw(st.one_of(st.just(Limits()), limits(currency), limits(currency))),
        stacking=draw(st.sampled_from(list(Stacking))),
    )


@functools.cache
def cart_lines(currency: str) -> st.SearchStrategy[list[CartLine]]:
    line = st.builds(
        CartLine,
        sku=st.sampled_from(SKUS),
        quantity=st.integers(1, 3),
        unit_price=amounts(currency, max_units=100),
        category=st.sampled_from([*CATEGORIES, ""]),
    )
    return st.lists(line, max_size=3)


@functools.cache
@st.composite
def cart_facts(draw: st.DrawFn, currency: str) -> CartFacts:
    return CartFacts(
        value=draw(amounts(currency, max_units=400)),
        currency=currency,
        stage=draw(st.sampled_from(sorted(STAGES))),
        delivery_charge=draw(usually(amounts(currency, max_units=40))),
        lines=tuple(draw(cart_lines(currency))),
        country=draw(st.sampled_from([*COUNTRIES, ""])),
    )


NOTHING_SPENT = st.just(Decimal(0))


@functools.cache
@st.composite
def policy_spend(draw: st.DrawFn, currency: str) -> PolicySpend:
    return PolicySpend(
        today=draw(st.one_of(NOTHING_SPENT, amounts(currency, max_units=400))),
        month=draw(st.one_of(NOTHING_SPENT, amounts(currency, max_units=1500))),
        agent_today=draw(st.one_of(NOTHING_SPENT, amounts(currency, max_units=100))),
    )


EXISTING = st.one_of(
    st.just([]),
    st.just([]),
    st.lists(
        st.builds(ExistingRemedy, kind=st.sampled_from(list(RemedyKind)), exclusive=st.booleans()),
        max_size=2,
    ),
)


@st.composite
def contexts(draw: st.DrawFn, *, currency: str, policy_ids: list[int]) -> EvaluationContext:
    spend = []
    last_granted = []
    for policy_id in policy_ids:
        if draw(st.booleans()):
            spend.append((policy_id, draw(policy_spend(currency))))
        if draw(st.integers(0, 3)) == 0:
            last_granted.append((policy_id, NOW - timedelta(days=draw(st.integers(0, 90)))))
    return EvaluationContext(
        cart=draw(cart_facts(currency)),
        shopper=ShopperFacts(
            segment=draw(st.sampled_from(list(Segment))), last_granted_at=tuple(last_granted)
        ),
        stall_reason=draw(st.sampled_from(sorted(STALL_REASONS))),
        agent=AgentFacts(agent_id=draw(st.integers(1, 3)), is_supervisor=draw(st.booleans())),
        now=NOW,
        spend=tuple(spend),
        existing=tuple(draw(EXISTING)),
    )


@dataclasses.dataclass(frozen=True)
class Situation:
    ctx: EvaluationContext
    specs: list[PolicySpec]


@st.composite
def situations(draw: st.DrawFn, *, min_policies: int = 1) -> Situation:
    """A context and ``min_policies`` to four policies with distinct ids."""
    currency = draw(st.sampled_from(CURRENCIES))
    policy_ids = draw(st.lists(st.integers(1, 50), min_size=min_policies, max_size=4, unique=True))
    specs = [draw(policy_specs(policy_id=pid, currency=currency)) for pid in policy_ids]
    ctx = draw(contexts(currency=currency, policy_ids=policy_ids))
    return Situation(ctx=ctx, specs=specs)


# --- tightenings: each returns a policy that applies to fewer situations, or less -----

Tightening = Callable[[st.DrawFn, PolicySpec], PolicySpec]


def _conditions(spec: PolicySpec, **changes: object) -> PolicySpec:
    return dataclasses.replace(spec, conditions=dataclasses.replace(spec.conditions, **changes))


def _limits(spec: PolicySpec, **changes: object) -> PolicySpec:
    return dataclasses.replace(spec, limits=dataclasses.replace(spec.limits, **changes))


def _raise(draw: st.DrawFn, old: Decimal | None, currency: str) -> Decimal:
    return (old or Decimal(0)) + draw(amounts(currency, max_units=100))


def _lower(draw: st.DrawFn, old: Decimal | None, currency: str) -> Decimal:
    """A value at most ``old`` (any value when there was no limit), never negative."""
    new = draw(amounts(currency, max_units=300))
    return new if old is None else min(new, old)


def raise_min_cart_value(draw: st.DrawFn, spec: PolicySpec) -> PolicySpec:
    return _conditions(
        spec, min_cart_value=_raise(draw, spec.conditions.min_cart_value, spec.currency)
    )


def lower_max_cart_value(draw: st.DrawFn, spec: PolicySpec) -> PolicySpec:
    return _conditions(
        spec, max_cart_value=_lower(draw, spec.conditions.max_cart_value, spec.currency)
    )


def raise_min_delivery_charge(draw: st.DrawFn, spec: PolicySpec) -> PolicySpec:
    return _conditions(
        spec, min_delivery_charge=_raise(draw, spec.conditions.min_delivery_charge, spec.currency)
    )


def shrink_a_set(draw: st.DrawFn, spec: PolicySpec) -> PolicySpec:
    """Narrow stages, stall reasons, segments, countries or the included categories/SKUs.

    An empty set means "any", so "any" narrows to some values and a set narrows to a
    smaller non-empty one (never to empty, which would widen it to "any" again).
    """
    name = draw(st.sampled_from(sorted(SET_CONDITIONS)))
    current = getattr(spec.conditions, name)
    pool = sorted(current, key=str) if current else SET_CONDITIONS[name]
    narrower = draw(st.frozensets(st.sampled_from(pool), min_size=1, max_size=len(pool)))
    return _conditions(spec, **{name: frozenset(narrower)})


def add_an_exclusion(draw: st.DrawFn, spec: PolicySpec) -> PolicySpec:
    if draw(st.booleans()):
        extra = draw(st.sampled_from(CATEGORIES))
        return _conditions(spec, exclude_categories=spec.conditions.exclude_categories | {extra})
    extra = draw(st.sampled_from(SKUS))
    return _conditions(spec, exclude_skus=spec.conditions.exclude_skus | {extra})


def lower_a_limit(draw: st.DrawFn, spec: PolicySpec) -> PolicySpec:
    name = draw(
        st.sampled_from(["max_per_offer", "daily_budget", "monthly_budget", "per_agent_daily_cap"])
    )
    return _limits(spec, **{name: _lower(draw, getattr(spec.limits, name), spec.currency)})


def lengthen_once_per_customer(draw: st.DrawFn, spec: PolicySpec) -> PolicySpec:
    days = (spec.limits.once_per_customer_days or 0) + draw(st.integers(1, 60))
    return _limits(spec, once_per_customer_days=days)


def lower_a_remedy_bound(draw: st.DrawFn, spec: PolicySpec) -> PolicySpec:
    """Lower a remedy's max_amount, or its max_percent (waiving takes no percentage)."""
    index = draw(st.integers(0, len(spec.remedies) - 1))
    old = spec.remedies[index]
    if old.kind is RemedyKind.WAIVE_DELIVERY or draw(st.booleans()):
        new = dataclasses.replace(old, max_amount=_lower(draw, old.max_amount, spec.currency))
    else:
        percent = draw(percents)
        if old.max_percent is not None:
            percent = min(percent, old.max_percent)
        new = dataclasses.replace(old, max_percent=percent)
    remedies = list(spec.remedies)
    remedies[index] = new
    return dataclasses.replace(spec, remedies=tuple(remedies))


def remove_a_remedy(draw: st.DrawFn, spec: PolicySpec) -> PolicySpec:
    index = draw(st.integers(0, len(spec.remedies) - 1))
    return dataclasses.replace(spec, remedies=spec.remedies[:index] + spec.remedies[index + 1 :])


def make_exclusive(draw: st.DrawFn, spec: PolicySpec) -> PolicySpec:
    return dataclasses.replace(spec, stacking=Stacking.EXCLUSIVE)


def switch_off(draw: st.DrawFn, spec: PolicySpec) -> PolicySpec:
    return dataclasses.replace(spec, active=False)


def narrow_the_window(draw: st.DrawFn, spec: PolicySpec) -> PolicySpec:
    if draw(st.booleans()):
        start = draw(moments())
        if spec.valid_from is not None:
            start = max(start, spec.valid_from)
        return dataclasses.replace(spec, valid_from=start)
    end = draw(moments())
    if spec.valid_until is not None:
        end = min(end, spec.valid_until)
    return dataclasses.replace(spec, valid_until=end)


TIGHTENINGS: list[Tightening] = [
    raise_min_cart_value,
    lower_max_cart_value,
    raise_min_delivery_charge,
    shrink_a_set,
    add_an_exclusion,
    lower_a_limit,
    lengthen_once_per_customer,
    lower_a_remedy_bound,
    remove_a_remedy,
    make_exclusive,
    switch_off,
    narrow_the_window,
]


@st.composite
def large_situations(draw: st.DrawFn, *, max_policies: int = 40) -> Situation:
    """A context and up to ``max_policies`` policies (none at times) with distinct ids:
    sets large enough for ties in priority, several policies failing the same number of
    conditions, and policies in force, not in force and in other currencies side by side
    (the policy index, ``policies.engine.index``)."""
    currency = draw(st.sampled_from(CURRENCIES))
    policy_ids = draw(st.lists(st.integers(1, 500), max_size=max_policies, unique=True))
    specs = [draw(policy_specs(policy_id=pid, currency=currency)) for pid in policy_ids]
    ctx = draw(contexts(currency=currency, policy_ids=policy_ids))
    return Situation(ctx=ctx, specs=specs)
