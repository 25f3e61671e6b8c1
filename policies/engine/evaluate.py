"""``evaluate``: which remedies this agent may offer for this cart now, and why (not).

Pure and deterministic: no I/O, ``now`` is an input, Decimal money only, and policies
are considered in a stable ``(priority, policy_id, version_id)`` order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal, localcontext

from .money import Money, floor_to_minor
from .types import (
    Allowed,
    Evaluation,
    EvaluationContext,
    Limits,
    NotAllowed,
    PolicySpec,
    Reason,
    RemedyDecision,
    RemedyKind,
    RemedySpec,
    Stacking,
)

HUNDRED = Decimal(100)
# Reasons meaning "this policy is not in force here at all" (not a near miss).
NOT_IN_FORCE = frozenset({"inactive", "not_yet_valid", "expired", "currency"})


def _money(amount: Decimal, currency: str) -> str:
    return str(Money(amount, currency))


def policy_order(spec: PolicySpec) -> tuple[int, int, int]:
    return (spec.priority, spec.policy_id, spec.version_id)


def evaluate(ctx: EvaluationContext, specs: Iterable[PolicySpec]) -> Evaluation:
    """For every remedy kind: ``Allowed`` by the first policy (in priority order) whose
    conditions hold and whose limits leave something to offer, else ``NotAllowed`` with
    the nearest miss — the reason from the policy that failed the fewest conditions (a
    refusal by its limits counts as one). Policies not in force (switched off, outside
    their window, another currency) supply the reason only when no policy in force
    offers the remedy; ties go to the first policy in priority order."""
    ordered = sorted(specs, key=policy_order)
    decisions: list[RemedyDecision] = []
    for kind in RemedyKind:
        decisions.append(_decide(kind, ordered, ctx))
    return Evaluation(decisions=tuple(decisions))


def spend_needed(ctx: EvaluationContext, specs: Iterable[PolicySpec]) -> list[int]:
    """The policies whose spend ``evaluate`` may read in ``ctx`` (ascending ids): those
    with a money remedy and a budget or a cap per agent whose conditions hold. Spend is
    read only when a policy's conditions hold (``_bound``) and counts only against its
    budgets, so ``evaluate`` gives the same answer whatever ``ctx.spend`` holds for any
    other policy: a caller may read the spend of these policies alone."""
    return sorted(
        {
            spec.policy_id
            for spec in specs
            if _has_budget(spec.limits)
            and any(remedy.kind.is_monetary for remedy in spec.remedies)
            and not condition_failures(spec, ctx)
        }
    )


def _has_budget(limits: Limits) -> bool:
    return (
        limits.daily_budget is not None
        or limits.monthly_budget is not None
        or limits.per_agent_daily_cap is not None
    )


def _decide(kind: RemedyKind, ordered: list[PolicySpec], ctx: EvaluationContext) -> RemedyDecision:
    # (not in force, failures, position in priority order, reason)
    misses: list[tuple[bool, int, int, Reason]] = []
    for position, spec in enumerate(ordered):
        remedy = next((r for r in spec.remedies if r.kind is kind), None)
        if remedy is None:
            continue
        failures = condition_failures(spec, ctx)
        if failures:
            not_in_force = failures[0].code in NOT_IN_FORCE
            misses.append((not_in_force, len(failures), position, failures[0]))
            continue
        result = _bound(spec, remedy, ctx)
        if isinstance(result, Reason):
            misses.append((False, 1, position, result))
            continue
        return result
    if not misses:
        return NotAllowed(kind, Reason("no_policy"))
    nearest = min(misses, key=lambda miss: miss[:3])
    return NotAllowed(kind, nearest[3])


# --- conditions: one check per kind, in the order their reasons are reported ---------

Check = Callable[[PolicySpec, EvaluationContext], "Reason | None"]


def _inactive(spec: PolicySpec, ctx: EvaluationContext) -> Reason | None:
    return None if spec.active else Reason("inactive", spec.name)


def _not_yet_valid(spec: PolicySpec, ctx: EvaluationContext) -> Reason | None:
    if spec.valid_from is None or ctx.now >= spec.valid_from:
        return None
    return Reason("not_yet_valid", spec.name, "valid_from", spec.valid_from.isoformat())


def _expired(spec: PolicySpec, ctx: EvaluationContext) -> Reason | None:
    if spec.valid_until is None or ctx.now < spec.valid_until:
        return None
    return Reason("expired", spec.name, "valid_until", spec.valid_until.isoformat())


def _other_currency(spec: PolicySpec, ctx: EvaluationContext) -> Reason | None:
    if spec.currency == ctx.cart.currency:
        return None
    return Reason("currency", spec.name, "currency", spec.currency, ctx.cart.currency)


def _below_min_value(spec: PolicySpec, ctx: EvaluationContext) -> Reason | None:
    minimum, value = spec.conditions.min_cart_value, ctx.cart.value
    if minimum is None or value >= minimum:
        return None
    cur = spec.currency
    return Reason(
        "below_min_value", spec.name, "cart_value", _money(minimum, cur), _money(value, cur)
    )


def _above_max_value(spec: PolicySpec, ctx: EvaluationContext) -> Reason | None:
    maximum, value = spec.conditions.max_cart_value, ctx.cart.value
    if maximum is None or value <= maximum:
        return None
    cur = spec.currency
    return Reason(
        "above_max_value", spec.name, "cart_value", _money(maximum, cur), _money(value, cur)
    )


def _one_of(
    code: str, wanted: frozenset[str], actual: str, spec: PolicySpec, shown: str = ""
) -> Reason | None:
    """A condition naming the values it accepts (empty: any)."""
    if not wanted or actual in wanted:
        return None
    return Reason(code, spec.name, code, ", ".join(sorted(wanted)), shown or actual)


def _stage(spec: PolicySpec, ctx: EvaluationContext) -> Reason | None:
    return _one_of("stage", spec.conditions.stages, ctx.cart.stage, spec)


def _stall_reason(spec: PolicySpec, ctx: EvaluationContext) -> Reason | None:
    return _one_of("stall_reason", spec.conditions.stall_reasons, ctx.stall_reason, spec)


def _segment(spec: PolicySpec, ctx: EvaluationContext) -> Reason | None:
    wanted, segment = spec.conditions.segments, ctx.shopper.segment
    if not wanted or segment in wanted:
        return None
    required = ", ".join(sorted(s.value for s in wanted))
    return Reason("segment", spec.name, "segment", required, segment.value)


def _country(spec: PolicySpec, ctx: EvaluationContext) -> Reason | None:
    country = ctx.cart.country
    return _one_of("country", spec.conditions.countries, country, spec, country or "unknown")


def _categories(ctx: EvaluationContext) -> set[str]:
    return {line.category for line in ctx.cart.lines if line.category}


def _skus(ctx: EvaluationContext) -> set[str]:
    return {line.sku for line in ctx.cart.lines}


def _category_excluded(spec: PolicySpec, ctx: EvaluationContext) -> Reason | None:
    excluded = spec.conditions.exclude_categories
    held = sorted(_categories(ctx) & excluded) if excluded else []
    if not held:
        return None
    return Reason("category_excluded", spec.name, "categories", "", ", ".join(held))


def _category_required(spec: PolicySpec, ctx: EvaluationContext) -> Reason | None:
    required = spec.conditions.include_categories
    if not required or _categories(ctx) & required:
        return None
    return Reason("category_required", spec.name, "categories", ", ".join(sorted(required)))


def _sku_excluded(spec: PolicySpec, ctx: EvaluationContext) -> Reason | None:
    excluded = spec.conditions.exclude_skus
    held = sorted(_skus(ctx) & excluded) if excluded else []
    if not held:
        return None
    return Reason("sku_excluded", spec.name, "skus", "", ", ".join(held))


def _sku_required(spec: PolicySpec, ctx: EvaluationContext) -> Reason | None:
    required = spec.conditions.include_skus
    if not required or _skus(ctx) & required:
        return None
    return Reason("sku_required", spec.name, "skus", ", ".join(sorted(required)))


def _below_min_delivery(spec: PolicySpec, ctx: EvaluationContext) -> Reason | None:
    minimum = spec.conditions.min_delivery_charge
    if minimum is None:
        return None
    fee = ctx.cart.delivery_charge or Decimal(0)
    if fee >= minimum:
        return None
    cur = spec.currency
    return Reason(
        "below_min_delivery", spec.name, "delivery_charge", _money(minimum, cur), _money(fee, cur)
    )


# A policy not in force here fails on the first of these alone (codes in NOT_IN_FORCE).
IN_FORCE_CHECKS: tuple[Check, ...] = (_inactive, _not_yet_valid, _expired, _other_currency)
# Every condition that fails is reported (evaluate counts them for the nearest miss).
CONDITION_CHECKS: tuple[Check, ...] = (
    _below_min_value,
    _above_max_value,
    _stage,
    _stall_reason,
    _segment,
    _country,
    _category_excluded,
    _category_required,
    _sku_excluded,
    _sku_required,
    _below_min_delivery,
)


def condition_failures(spec: PolicySpec, ctx: EvaluationContext) -> list[Reason]:
    """Every way ``spec`` does not apply to this situation; empty when it applies.

    1. Validity (active, from, until) and currency come first, and alone: a policy outside
       its window or in another currency never applies (``IN_FORCE_CHECKS``).
    2. Then every condition, each checked on its own (``CONDITION_CHECKS``), in order.
    """
    for check in IN_FORCE_CHECKS:
        reason = check(spec, ctx)
        if reason is not None:
            return [reason]
    failures = [check(spec, ctx) for check in CONDITION_CHECKS]
    return [reason for reason in failures if reason is not None]


DELIVERY_REMEDIES = frozenset({RemedyKind.WAIVE_DELIVERY, RemedyKind.REDUCE_DELIVERY})


def _stacking_refusal(spec: PolicySpec, kind: RemedyKind, ctx: EvaluationContext) -> Reason | None:
    if any(existing.kind is kind for existing in ctx.existing):
        return Reason("already_offered", spec.name)
    # A waived delivery charge (offered, waiting or accepted) leaves nothing to reduce:
    # "Reduce the delivery charge" must not follow "Waive" on one cart.
    if kind in DELIVERY_REMEDIES and any(
        existing.kind is RemedyKind.WAIVE_DELIVERY for existing in ctx.existing
    ):
        return Reason("delivery_waived", spec.name)
    if any(existing.exclusive for existing in ctx.existing):
        return Reason("exclusive_taken", spec.name)
    if spec.stacking is Stacking.EXCLUSIVE and ctx.existing:
        return Reason("not_combinable", spec.name)
    return None


def _base_amount(remedy: RemedySpec, ctx: EvaluationContext, spec: PolicySpec) -> Decimal | Reason:
    """The remedy's own bound before budgets and per-offer limits."""
    cart = ctx.cart
    fee = cart.delivery_charge
    if remedy.kind in (RemedyKind.WAIVE_DELIVERY, RemedyKind.REDUCE_DELIVERY):
        if fee is None or fee <= 0:
            return Reason("no_delivery_charge", spec.name, "delivery_charge")
        base = fee
    elif remedy.kind is RemedyKind.DISCOUNT:
        base = cart.value
    else:  # FREE_GIFT
        return remedy.gift_value or Decimal(0)
    candidates = [base]
    if remedy.max_percent is not None and remedy.kind is not RemedyKind.WAIVE_DELIVERY:
        # Rounded towards floor at every step: with more digits than the context keeps,
        # half-even could round the product up past a minor unit (99.99…% of 4.05 → 4.05).
        with localcontext() as context:
            context.rounding = ROUND_FLOOR
            candidates.append(base * remedy.max_percent / HUNDRED)
    if remedy.max_amount is not None:
        candidates.append(remedy.max_amount)
    return min(candidates)


def _bound(spec: PolicySpec, remedy: RemedySpec, ctx: EvaluationContext) -> Allowed | Reason:
    """Apply stacking, per-customer frequency, budgets and caps to the remedy's bound.

    1. stacking with what was already offered for the cart;
    2. once per customer per N days (across all the customer's carts and visitor ids);
    3. non-monetary remedies stop here (no budget);
    4. bound = min(remedy bound, max per offer, daily / monthly budget left, the agent's
       daily cap left), rounded down to the currency's minor unit; a used-up budget
       refuses, and a counter below zero never lifts a budget above its cap;
    5. a gift is all or nothing: it needs its whole value under every limit.
    """
    name = spec.name
    cur = spec.currency
    refusal = _stacking_refusal(spec, remedy.kind, ctx)
    if refusal is not None:
        return refusal
    limits = spec.limits
    if limits.once_per_customer_days is not None:
        last = ctx.last_grant_for(spec.policy_id)
        if last is not None and ctx.now - last < timedelta(days=limits.once_per_customer_days):
            return Reason(
                "once_per_customer",
                name,
                "once_per_customer_days",
                str(limits.once_per_customer_days),
                last.date().isoformat(),
            )
    exclusive = spec.stacking is Stacking.EXCLUSIVE
    if not remedy.kind.is_monetary:
        return Allowed(
            kind=remedy.kind,
            policy_version_id=spec.version_id,
            policy_id=spec.policy_id,
            policy_name=name,
            bound=None,
            exclusive=exclusive,
            hold_hours=remedy.hold_hours,
        )
    base = _base_amount(remedy, ctx, spec)
    if isinstance(base, Reason):
        return base
    spend = ctx.spend_for(spec.policy_id)
    candidates = [base]
    if limits.max_per_offer is not None:
        candidates.append(limits.max_per_offer)
    budget_checks = [
        ("budget_daily", limits.daily_budget, spend.today),
        ("budget_monthly", limits.monthly_budget, spend.month),
        ("agent_cap", limits.per_agent_daily_cap, spend.agent_today),
    ]
    for code, cap, spent in budget_checks:
        if cap is None:
            continue
        left = cap - max(spent, Decimal(0))
        if left <= 0:
            return Reason(code, name, code, _money(cap, cur), _money(spent, cur))
        candidates.append(left)
    if remedy.kind is RemedyKind.FREE_GIFT and min(candidates) < base:
        return Reason(
            "gift_over_limit", name, "gift_value", _money(min(candidates), cur), _money(base, cur)
        )
    bound = floor_to_minor(max(min(candidates), Decimal(0)), cur)
    if bound <= 0 and remedy.kind is not RemedyKind.FREE_GIFT:
        return Reason("zero_bound", name, "bound", "", _money(bound, cur))
    approval = (
        Money(limits.approval_above, cur)
        if limits.approval_above is not None and not ctx.agent.is_supervisor
        else None
    )
    return Allowed(
        kind=remedy.kind,
        policy_version_id=spec.version_id,
        policy_id=spec.policy_id,
        policy_name=name,
        bound=Money(bound, cur),
        exclusive=exclusive,
        approval_above=approval,
        gift_sku=remedy.gift_sku,
    )
