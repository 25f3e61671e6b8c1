"""``spend_needed``: the remedies list reads the spend of these policies only (ADR 0020),
so the spend of every other policy must not change what ``evaluate`` answers. No
database, no Django."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from hypothesis import given, settings

from policies.engine import PolicySpend, evaluate, spend_needed

from .strategies import Situation, situations


@settings(max_examples=400)
@given(situations())
def test_the_spend_of_the_policies_not_needed_never_changes_the_answer(
    situation: Situation,
) -> None:
    # given: the spend of every policy, and the spend of the needed ones alone
    ctx, specs = situation.ctx, situation.specs
    needed = set(spend_needed(ctx, specs))
    only_needed = dataclasses.replace(
        ctx, spend=tuple((pid, spend) for pid, spend in ctx.spend if pid in needed)
    )
    # the others exhausted: a budget they have would refuse if it were read
    exhausted = PolicySpend(today=Decimal(10**9), month=Decimal(10**9), agent_today=Decimal(10**9))
    others_exhausted = dataclasses.replace(
        ctx,
        spend=only_needed.spend
        + tuple((spec.policy_id, exhausted) for spec in specs if spec.policy_id not in needed),
    )

    # when / then
    assert evaluate(only_needed, specs) == evaluate(ctx, specs)
    assert evaluate(others_exhausted, specs) == evaluate(ctx, specs)


@given(situations())
def test_only_policies_that_apply_and_have_a_budget_need_their_spend(
    situation: Situation,
) -> None:
    ctx, specs = situation.ctx, situation.specs
    by_id = {spec.policy_id: spec for spec in specs}

    needed = spend_needed(ctx, specs)

    assert needed == sorted(needed)
    for policy_id in needed:
        limits = by_id[policy_id].limits
        assert (limits.daily_budget, limits.monthly_budget, limits.per_agent_daily_cap) != (
            None,
            None,
            None,
        )
