"""``PolicyIndex``: a site's policy set compiled once, so that an evaluation touches only
the policies that can decide it (docs/adr/0022).

``evaluate(ctx, specs)`` checks every condition of every policy for every remedy kind:
at 1,000 policies that is most of its time, although at most a handful of policies
apply to a given cart. The index gives every policy a bit (its position in priority
order) and keeps, per condition, which policies it can fail: a ``dict`` from each value
a set names (stage, stall reason, segment, country, category, SKU, currency) to the
policies that accept it, and the amount and time bounds (cart value, delivery charge,
validity window) sorted, so a context's failing policies are a few dictionary look-ups
and binary searches, combined with integer bit operations. The policies whose
conditions all hold are then bounded by the same ``_bound`` as ``evaluate``, in
priority order; the nearest miss (fewest failed conditions, then priority) comes from a
bit-sliced count of the failures per policy, and only the winning policy's reason is
built, by the same check functions.

The answer is ``evaluate``'s, always (a property test compares the two on random
policies and situations): same decisions, same reasons, same spend needed.
Pure and standard-library only, like the rest of the engine.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Hashable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from .evaluate import (
    CONDITION_CHECKS,
    IN_FORCE_CHECKS,
    _bound,
    _has_budget,
    policy_order,
)
from .types import (
    Allowed,
    Conditions,
    Evaluation,
    EvaluationContext,
    NotAllowed,
    PolicySpec,
    Reason,
    RemedyDecision,
    RemedyKind,
    RemedySpec,
)

# Bits of a failure count per policy: CONDITION_CHECKS has 11 checks, fewer than 2**4.
COUNT_BITS = 4
_NO_FEE = Decimal(0)


def _bits(positions: Iterable[int]) -> int:
    mask = 0
    for position in positions:
        mask |= 1 << position
    return mask


def _lowest(mask: int) -> int:
    """The position of the lowest set bit (``mask`` > 0): the first in priority order."""
    return (mask & -mask).bit_length() - 1


class _Members:
    """A set-valued condition ("any" when empty): which policies name a set, and for
    each value the policies whose set holds it."""

    __slots__ = ("by_value", "restricted")

    def __init__(self, sets: Sequence[frozenset[Any]]) -> None:
        self.restricted = 0
        self.by_value: dict[Hashable, int] = {}
        for position, values in enumerate(sets):
            if not values:
                continue
            bit = 1 << position
            self.restricted |= bit
            for value in values:
                self.by_value[value] = self.by_value.get(value, 0) | bit

    def failing_one(self, actual: Hashable) -> int:
        """Policies whose non-empty set does not hold ``actual``."""
        return self.restricted & ~self.by_value.get(actual, 0)

    def holding_any(self, actual: Iterable[Hashable]) -> int:
        """Policies whose set holds at least one of ``actual``."""
        mask = 0
        for value in actual:
            mask |= self.by_value.get(value, 0)
        return mask


class _Sorted:
    """A bound per policy (None: no bound), sorted, with the policies at or below each
    rank (``below``) and at or above it (``above``) as masks."""

    __slots__ = ("above", "below", "keys")

    def __init__(self, bounds: Sequence[Any]) -> None:
        ranked = sorted(
            ((bound, position) for position, bound in enumerate(bounds) if bound is not None),
            key=lambda item: item[0],
        )
        self.keys: list[Any] = [bound for bound, _ in ranked]
        self.below = [0]  # below[i]: the policies of ranks < i
        for _, position in ranked:
            self.below.append(self.below[-1] | 1 << position)
        total = self.below[-1]
        self.above = [total & ~below for below in self.below]  # above[i]: ranks >= i

    def greater_than(self, value: object) -> int:
        """Policies whose bound is above ``value``."""
        if not self.keys:
            return 0
        return self.above[bisect_right(self.keys, value)]

    def at_most(self, value: object) -> int:
        """Policies whose bound is at or below ``value``."""
        if not self.keys:
            return 0
        return self.below[bisect_right(self.keys, value)]

    def less_than(self, value: object) -> int:
        """Policies whose bound is below ``value``."""
        if not self.keys:
            return 0
        return self.below[bisect_left(self.keys, value)]


class _Conditions:
    """``CONDITION_CHECKS``' conditions of every policy, indexed."""

    __slots__ = (
        "countries",
        "exclude_categories",
        "exclude_skus",
        "include_categories",
        "include_skus",
        "max_value",
        "min_delivery",
        "min_value",
        "segments",
        "stages",
        "stall_reasons",
    )

    def __init__(self, conditions: Sequence[Conditions]) -> None:
        self.min_value = _Sorted([c.min_cart_value for c in conditions])
        self.max_value = _Sorted([c.max_cart_value for c in conditions])
        self.stages = _Members([c.stages for c in conditions])
        self.stall_reasons = _Members([c.stall_reasons for c in conditions])
        self.segments = _Members([c.segments for c in conditions])
        self.countries = _Members([c.countries for c in conditions])
        self.exclude_categories = _Members([c.exclude_categories for c in conditions])
        self.include_categories = _Members([c.include_categories for c in conditions])
        self.exclude_skus = _Members([c.exclude_skus for c in conditions])
        self.include_skus = _Members([c.include_skus for c in conditions])
        self.min_delivery = _Sorted([c.min_delivery_charge for c in conditions])

    def failing(self, ctx: EvaluationContext) -> tuple[int, ...]:
        """Per check of ``CONDITION_CHECKS`` (in its order), the policies failing it."""
        cart = ctx.cart
        categories = {line.category for line in cart.lines if line.category}
        skus = {line.sku for line in cart.lines}
        fee = cart.delivery_charge or _NO_FEE
        return (
            self.min_value.greater_than(cart.value),
            self.max_value.less_than(cart.value),
            self.stages.failing_one(cart.stage),
            self.stall_reasons.failing_one(ctx.stall_reason),
            self.segments.failing_one(ctx.shopper.segment),
            self.countries.failing_one(cart.country),
            self.exclude_categories.holding_any(categories),
            self.include_categories.restricted & ~self.include_categories.holding_any(categories),
            self.exclude_skus.holding_any(skus),
            self.include_skus.restricted & ~self.include_skus.holding_any(skus),
            self.min_delivery.greater_than(fee),
        )


class PolicyIndex:
    """A policy set compiled for ``evaluate``-identical answers in time that grows with
    the policies that apply, not with all of them. Immutable once built; build it once
    per set of versions (``policies.specs`` keeps one per site's current set)."""

    def __init__(self, specs: Iterable[PolicySpec]) -> None:
        ordered = tuple(sorted(specs, key=policy_order))
        self.specs = ordered
        conditions = [spec.conditions for spec in ordered]
        self._all = (1 << len(ordered)) - 1
        # remedy kind → each offering policy's remedy of that kind, and them as a mask
        self._remedy = _remedies_by_kind(ordered)
        self._offering = {kind: _bits(self._remedy[kind]) for kind in RemedyKind}
        self._inactive = _bits(p for p, spec in enumerate(ordered) if not spec.active)
        self._valid_from = _Sorted([spec.valid_from for spec in ordered])
        self._valid_until = _Sorted([spec.valid_until for spec in ordered])
        self._currency = _Members([frozenset({spec.currency}) for spec in ordered])
        self._conditions = _Conditions(conditions)
        self._budgeted_money = _bits(
            p
            for p, spec in enumerate(ordered)
            if _has_budget(spec.limits) and any(r.kind.is_monetary for r in spec.remedies)
        )

    def __len__(self) -> int:
        return len(self.specs)

    def evaluate(self, ctx: EvaluationContext) -> Evaluation:
        """``evaluate(ctx, self.specs)``, touching only the policies that can decide it."""
        failures = _Failures(self, ctx)
        return Evaluation(decisions=tuple(self._decide(kind, ctx, failures) for kind in RemedyKind))

    def spend_needed(self, ctx: EvaluationContext) -> list[int]:
        """``spend_needed(ctx, self.specs)``: the policies with a money remedy and a
        budget or cap whose conditions all hold (ascending ids)."""
        mask = self._budgeted_money & _Failures(self, ctx).none_failed
        ids = set()
        while mask:
            low = mask & -mask
            ids.add(self.specs[low.bit_length() - 1].policy_id)
            mask ^= low
        return sorted(ids)

    def _decide(
        self, kind: RemedyKind, ctx: EvaluationContext, failures: _Failures
    ) -> RemedyDecision:
        """``evaluate``'s ``_decide`` on masks:

        1. the policies offering ``kind`` whose conditions all hold, in priority order:
           the first that ``_bound`` allows decides;
        2. else the nearest miss: a refusal by limits or a single failed condition (the
           first in priority order), else the fewest failed conditions, else a policy
           not in force; its reason is the one ``condition_failures`` gives first.
        """
        offering = self._offering[kind]
        if not offering:
            return NotAllowed(kind, Reason("no_policy"))
        remedies = self._remedy[kind]
        candidates = offering & failures.none_failed
        refused: tuple[int, Reason] | None = None
        while candidates:
            low = candidates & -candidates
            position = low.bit_length() - 1
            candidates ^= low
            result = _bound(self.specs[position], remedies[position], ctx)
            if isinstance(result, Allowed):
                return result
            if refused is None:
                refused = (position, result)
        in_force = offering & ~failures.not_in_force
        single = in_force & failures.exactly(1)
        if single and (refused is None or _lowest(single) < refused[0]):
            return NotAllowed(kind, failures.first_reason(_lowest(single)))
        if refused is not None:
            return NotAllowed(kind, refused[1])
        for count in range(2, len(CONDITION_CHECKS) + 1):
            missed = in_force & failures.exactly(count)
            if missed:
                return NotAllowed(kind, failures.first_reason(_lowest(missed)))
        # Only policies not in force are left (each fails on one check alone).
        return NotAllowed(kind, failures.first_reason(_lowest(offering & failures.not_in_force)))


def _remedies_by_kind(ordered: Sequence[PolicySpec]) -> dict[RemedyKind, dict[int, RemedySpec]]:
    """Per kind, the position of each policy offering it → its (first) remedy of it."""
    by_kind: dict[RemedyKind, dict[int, RemedySpec]] = {kind: {} for kind in RemedyKind}
    for position, spec in enumerate(ordered):
        for kind in RemedyKind:
            remedy = next((r for r in spec.remedies if r.kind is kind), None)
            if remedy is not None:
                by_kind[kind][position] = remedy
    return by_kind


class _Failures:
    """Which policies of an index fail which check in one context, as masks."""

    __slots__ = ("_counts", "by_check", "ctx", "index", "none_failed", "not_in_force")

    def __init__(self, index: PolicyIndex, ctx: EvaluationContext) -> None:
        self.index = index
        self.ctx = ctx
        cart = ctx.cart
        i = index
        self.not_in_force = (
            i._inactive
            | i._valid_from.greater_than(ctx.now)
            | i._valid_until.at_most(ctx.now)
            | i._currency.failing_one(cart.currency)
        )
        self.by_check = i._conditions.failing(ctx)
        failed = self.not_in_force
        for mask in self.by_check:
            failed |= mask
        self.none_failed = i._all & ~failed
        self._counts: list[int] | None = None

    def exactly(self, count: int) -> int:
        """The policies (in force or not) failing exactly ``count`` condition checks."""
        if self._counts is None:
            self._counts = _bit_sliced_counts(self.by_check)
        mask = self.index._all
        for bit, plane in enumerate(self._counts):
            mask &= plane if count >> bit & 1 else ~plane
        return mask

    def first_reason(self, position: int) -> Reason:
        """The first reason ``condition_failures`` gives for the policy at ``position``
        (it fails at least one check): built by the same check functions."""
        spec = self.index.specs[position]
        checks: Sequence[Callable[[PolicySpec, EvaluationContext], Reason | None]]
        if self.not_in_force >> position & 1:
            checks = IN_FORCE_CHECKS
        else:
            checks = [
                check
                for check, mask in zip(CONDITION_CHECKS, self.by_check, strict=True)
                if mask >> position & 1
            ]
        for check in checks:
            reason = check(spec, self.ctx)
            if reason is not None:
                return reason
        raise AssertionError(f"policy at {position} fails no check")  # pragma: no cover


def _bit_sliced_counts(masks: Iterable[int]) -> list[int]:
    """Per policy, how many of ``masks`` hold its bit, as COUNT_BITS bit planes (plane
    ``b`` holds the policies whose count has bit ``b`` set): a ripple-carry adder over
    whole masks."""
    planes = [0] * COUNT_BITS
    for mask in masks:
        carry = mask
        for bit in range(COUNT_BITS):
            if not carry:
                break
            planes[bit], carry = planes[bit] ^ carry, planes[bit] & carry
    return planes
