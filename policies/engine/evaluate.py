"""``evaluate``: which remedies this agent may offer for this cart now, and why (not).

Pure and deterministic: no I/O, ``now`` is an input, Decimal money only, and policies
are considered in a stable ``(priority, policy_id, version_id)`` order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal, localcontext

from .money import Money, floor_to_minor
from .types import (
    Allowed,
    Evaluation,
    EvaluationContext,
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


def condition_failures(spec: PolicySpec, ctx: EvaluationContext) -> list[Reason]:
    """Every way ``spec`` does not apply to this situation; empty when it applies.

    Validity (active, from, until) comes first: a policy outside its window never applies.
    """
    name = spec.name
    now = ctx.now
    if not spec.active:
        return [Reason("inactive", name)]
    if spec.valid_from is not None and now < spec.valid_from:
        return [Reason("not_yet_valid", name, "valid_from", spec.valid_from.isoformat())]
    if spec.valid_until is not None and now >= spec.valid_until:
        return [Reason("expired", name, "valid_until", spec.valid_until.isoformat())]
    cart = ctx.cart
    if spec.currency != cart.currency:
        return [Reason("currency", name, "currency", spec.currency, cart.currency)]

    c = spec.conditions
    cur = spec.currency
    failures: list[Reason] = []
    if c.min_cart_value is not None and cart.value < c.min_cart_value:
        failures.append(
            Reason(
                "below_min_value",
                name,
                "cart_value",
                _money(c.min_cart_value, cur),
                _money(cart.value, cur),
            )
        )
    if c.max_cart_value is not None and cart.value > c.max_cart_value:
        failures.append(
            Reason(
                "above_max_value",
                name,
                "cart_value",
                _money(c.max_cart_value, cur),
                _money(cart.value, cur),
            )
        )
    if c.stages and cart.stage not in c.stages:
        failures.append(Reason("stage", name, "stage", ", ".join(sorted(c.stages)), cart.stage))
    if c.stall_reasons and ctx.stall_reason not in c.stall_reasons:
        failures.append(
            Reason(
                "stall_reason",
                name,
                "stall_reason",
                ", ".join(sorted(c.stall_reasons)),
                ctx.stall_reason,
            )
        )
    if c.segments and ctx.shopper.segment not in c.segments:
        wanted = ", ".join(sorted(s.value for s in c.segments))
        failures.append(Reason("segment", name, "segment", wanted, ctx.shopper.segment.value))
    if c.countries and cart.country not in c.countries:
        failures.append(
            Reason(
                "country",
                name,
                "country",
                ", ".join(sorted(c.countries)),
                cart.country or "unknown",
            )
        )
    categories = {line.category for line in cart.lines if line.category}
    skus = {line.sku for line in cart.lines}
    excluded = sorted(categories & c.exclude_categories)
    if excluded:
        failures.append(Reason("category_excluded", name, "categories", "", ", ".join(excluded)))
    if c.include_categories and not categories & c.include_categories:
        failures.append(
            Reason("category_required", name, "categories", ", ".join(sorted(c.include_categories)))
        )
    excluded_skus = sorted(skus & c.exclude_skus)
    if excluded_skus:
        failures.append(Reason("sku_excluded", name, "skus", "", ", ".join(excluded_skus)))
    if c.include_skus and not skus & c.include_skus:
        failures.append(Reason("sku_required", name, "skus", ", ".join(sorted(c.include_skus))))
    if c.min_delivery_charge is not None:
        fee = cart.delivery_charge or Decimal(0)
        if fee < c.min_delivery_charge:
            failures.append(
                Reason(
                    "below_min_delivery",
                    name,
                    "delivery_charge",
                    _money(c.min_delivery_charge, cur),
                    _money(fee, cur),
                )
            )
    return failures


def _stacking_refusal(spec: PolicySpec, kind: RemedyKind, ctx: EvaluationContext) -> Reason | None:
    if any(existing.kind is kind for existing in ctx.existing):
        return Reason("already_offered", spec.name)
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
