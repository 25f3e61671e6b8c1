"""``PolicyIndex``: the compiled policy set answers exactly as ``evaluate`` does — every
decision, every reason, the spend needed — on random policies and situations
(hypothesis). No database, no Django."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import event, given, settings

from policies.engine import (
    AgentFacts,
    CartFacts,
    Conditions,
    EvaluationContext,
    NotAllowed,
    PolicyIndex,
    PolicySpec,
    RemedyKind,
    RemedySpec,
    ShopperFacts,
    evaluate,
    spend_needed,
)

from .strategies import NOW, Situation, large_situations, situations

INDEX = settings(deadline=None, max_examples=400)

BASE_CTX = EvaluationContext(
    cart=CartFacts(
        value=Decimal("60.00"),
        currency="EUR",
        stage="shipping",
        delivery_charge=Decimal("9.90"),
        country="DE",
    ),
    shopper=ShopperFacts(),
    stall_reason="shipping_shock",
    agent=AgentFacts(agent_id=7),
    now=NOW,
)


def make_spec(*, policy_id: int, **changes: Any) -> PolicySpec:
    spec = PolicySpec(
        version_id=policy_id * 10,
        policy_id=policy_id,
        name=f"Policy {policy_id}",
        currency="EUR",
        remedies=(RemedySpec(RemedyKind.WAIVE_DELIVERY),),
    )
    return dataclasses.replace(spec, **changes)


@INDEX
@given(situation=large_situations())
def test_the_index_answers_as_evaluate_does(situation: Situation):
    # given
    index = PolicyIndex(situation.specs)
    # when
    indexed = index.evaluate(situation.ctx)
    # then
    plain = evaluate(situation.ctx, situation.specs)
    assert indexed == plain
    for decision in plain.decisions:
        label = decision.reason.code if isinstance(decision, NotAllowed) else "allowed"
        event(f"{decision.kind.value}: {label}")


@INDEX
@given(situation=situations())
def test_the_index_answers_as_evaluate_does_for_a_few_policies(situation: Situation):
    assert PolicyIndex(situation.specs).evaluate(situation.ctx) == evaluate(
        situation.ctx, situation.specs
    )


@INDEX
@given(situation=large_situations())
def test_the_index_needs_the_spend_evaluate_needs(situation: Situation):
    index = PolicyIndex(situation.specs)
    assert index.spend_needed(situation.ctx) == spend_needed(situation.ctx, situation.specs)


@INDEX
@given(situation=large_situations(max_policies=12))
def test_the_index_answers_as_evaluate_does_whatever_the_order_given(situation: Situation):
    # given: the same policies in reverse (evaluate sorts them by priority itself)
    index = PolicyIndex(list(reversed(situation.specs)))
    # then
    assert index.evaluate(situation.ctx) == evaluate(situation.ctx, situation.specs)


def test_an_empty_index_allows_nothing():
    evaluation = PolicyIndex([]).evaluate(BASE_CTX)

    assert evaluation == evaluate(BASE_CTX, [])
    assert {d.reason.code for d in evaluation.decisions if isinstance(d, NotAllowed)} == {
        "no_policy"
    }
    assert len(PolicyIndex([])) == 0


def test_the_nearest_miss_is_the_policy_failing_fewest_conditions():
    # given: a cart of 60.00 in one country; the first policy (priority order) fails
    # three conditions, the second two, the third is switched off
    three = make_spec(
        policy_id=1,
        priority=1,
        conditions=Conditions(
            min_cart_value=Decimal("100.00"),
            countries=frozenset({"XX"}),
            stages=frozenset({"cart"}),
        ),
    )
    two = make_spec(
        policy_id=2,
        priority=2,
        conditions=Conditions(min_cart_value=Decimal("100.00"), countries=frozenset({"XX"})),
    )
    off = make_spec(policy_id=3, priority=0, active=False)
    specs = [three, two, off]
    # when
    decision = PolicyIndex(specs).evaluate(BASE_CTX).for_kind(RemedyKind.WAIVE_DELIVERY)
    # then
    assert decision == evaluate(BASE_CTX, specs).for_kind(RemedyKind.WAIVE_DELIVERY)
    assert isinstance(decision, NotAllowed)
    assert (decision.reason.code, decision.reason.policy_name) == ("below_min_value", "Policy 2")


def test_a_window_boundary_is_decided_as_evaluate_does():
    # given: one policy starting now, one ending now, one ending a second later
    specs = [
        make_spec(policy_id=1, valid_from=NOW),
        make_spec(policy_id=2, valid_until=NOW),
        make_spec(policy_id=3, valid_until=NOW + timedelta(seconds=1)),
    ]
    ctx = dataclasses.replace(BASE_CTX, now=NOW)
    for order in (specs, specs[1:], specs[2:], specs[1:2]):
        assert PolicyIndex(order).evaluate(ctx) == evaluate(ctx, order)


def test_a_policy_with_two_remedies_is_indexed_under_both():
    spec = make_spec(
        policy_id=1,
        remedies=(
            RemedySpec(RemedyKind.HOLD_STOCK, hold_hours=2),
            RemedySpec(RemedyKind.DISCOUNT, max_percent=Decimal(10)),
        ),
    )
    evaluation = PolicyIndex([spec]).evaluate(BASE_CTX)

    assert evaluation == evaluate(BASE_CTX, [spec])
    assert evaluation.for_kind(RemedyKind.HOLD_STOCK).allowed
    assert evaluation.for_kind(RemedyKind.DISCOUNT).allowed
