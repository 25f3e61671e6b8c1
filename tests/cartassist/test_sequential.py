"""The always-valid sequence, the sample-size planner and CUPED on hand-checked inputs."""

from __future__ import annotations

import math

import pytest

from cartassist.domain.cuped import Cell, cuped
from cartassist.domain.planner import fixed_horizon_carts, plan, sequential_carts
from cartassist.domain.sequential import (
    difference_sequence,
    half_width,
    rho,
    smoothed_variance,
    units_to_reach,
)
from cartassist.domain.uplift import difference_interval


def test_rho_and_half_width_follow_the_closed_form():
    # ρ² = (−2 log α + log(1 − 2 log α)) / t*
    assert rho(tuned_for=1000) == pytest.approx(
        math.sqrt((5.991464547 + math.log(6.991464547)) / 1000)
    )
    r2 = rho(tuned_for=1000) ** 2
    t, v = 400, 0.5
    expected = math.sqrt(
        2 * (t * v * r2 + 1) / (t * t * r2) * math.log(math.sqrt(t * v * r2 + 1) / 0.05)
    )
    assert half_width(t, v) == pytest.approx(expected)


def test_the_sequence_is_wider_than_the_fixed_interval_and_shrinks_with_data():
    sequence = difference_sequence(60, 200, 40, 200)
    fixed = difference_interval(60, 200, 40, 200)
    assert sequence.interval is not None
    assert fixed is not None
    assert sequence.interval.low < fixed.low
    assert sequence.interval.high > fixed.high
    assert sequence.estimate == pytest.approx(0.1)
    bigger = difference_sequence(600, 2000, 400, 2000)
    assert bigger.interval is not None
    assert (
        bigger.interval.high - bigger.interval.low < sequence.interval.high - sequence.interval.low
    )


def test_not_enough_data_says_how_many_more_carts():
    sequence = difference_sequence(60, 200, 40, 200)
    assert not sequence.excludes_zero
    assert sequence.carts_to_exclude_zero is not None
    # at 400 + that many carts with the same rates the sequence leaves 0, one fewer it does not
    total = 400 + sequence.carts_to_exclude_zero
    variance = 400 * (smoothed_variance(60, 200) / 200 + smoothed_variance(40, 200) / 200)
    assert half_width(total, variance) < 0.1 <= half_width(total - 1, variance)
    clear = difference_sequence(900, 2000, 400, 2000)
    assert clear.excludes_zero
    assert clear.carts_to_exclude_zero == 0


def test_no_interval_without_both_arms_and_no_promise_without_an_effect():
    assert difference_sequence(3, 10, 0, 0).interval is None
    same = difference_sequence(20, 100, 20, 100)
    assert same.interval is not None
    assert same.carts_to_exclude_zero is None
    assert units_to_reach(0.0, 1.0) is None


def test_the_planner_matches_the_two_proportion_formula():
    # 18 % → 23 %, 10 % held out: (1.96 + 0.8416)² (0.23·0.77/0.9 + 0.18·0.82/0.1) / 0.05²
    expected = (1.959964 + 0.841621) ** 2 * (0.23 * 0.77 / 0.9 + 0.18 * 0.82 / 0.1) / 0.05**2
    assert fixed_horizon_carts(0.18, 0.05, 0.1) == math.ceil(expected)
    sequential = sequential_carts(0.18, 0.05, 0.1)
    assert sequential is not None
    assert sequential > math.ceil(expected)  # always valid costs more carts
    result = plan(
        uplift=0.05,
        baseline_rate=0.18,
        holdout_share=0.1,
        randomised_so_far=1000,
        randomised_share=0.8,
    )
    current = [line for line in result.lines if line.current]
    assert [line.holdout_share for line in current] == [0.1]
    assert current[0].more_stalled_fixed == math.ceil((math.ceil(expected) - 1000) / 0.8)
    by_share = {line.holdout_share: line.randomised_fixed for line in result.lines}
    # a larger holdout (up to half) needs fewer carts in all
    assert by_share[0.05] > by_share[0.1] > by_share[0.2] > by_share[0.3] > by_share[0.5]


def test_the_planner_refuses_impossible_rates():
    assert fixed_horizon_carts(0.98, 0.05, 0.1) is None
    assert sequential_carts(0.2, 0.05, 0.0) is None


def _cell(treated: bool, stage: str, n: int, converted: int, value: float) -> Cell:
    return Cell(
        treated, stage, "idle", False, n, converted, n * value, n * value * value, converted * value
    )


def test_cuped_removes_a_stage_imbalance_and_reports_the_reduction():
    # conversion depends on the stage only (10 % at cart, 50 % at payment); the invited
    # arm happens to hold more payment-stage carts, and outreach adds 5 points
    cells = [
        _cell(True, "cart", 100, 15, 3.0),
        _cell(True, "payment", 300, 165, 3.0),
        _cell(False, "cart", 200, 20, 3.0),
        _cell(False, "payment", 200, 100, 3.0),
    ]
    result = cuped(cells)
    plain = 180 / 400 - 120 / 400
    assert result.estimate is not None
    assert result.estimate == pytest.approx(0.05, abs=1e-9)
    assert plain == pytest.approx(0.15)
    assert result.variance_reduction is not None
    assert 0 < result.variance_reduction < 1
    assert result.covariates == ["value", "stage=payment", "returning"]


def test_cuped_needs_two_carts_per_arm():
    result = cuped([_cell(True, "cart", 1, 1, 3.0), _cell(False, "cart", 5, 1, 3.0)])
    assert result.estimate is None
    assert result.sequence.interval is None
