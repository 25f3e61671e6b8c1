"""Wilson and Newcombe intervals against published values, and their properties (no DB)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartassist.domain.uplift import (
    compare,
    difference_interval,
    proportion,
    relative_uplift,
    wilson_interval,
)

# Newcombe (1998), "Interval estimation for the difference between independent
# proportions: comparison of eleven methods", Statistics in Medicine 17, Table II,
# method 10 (hybrid score interval without continuity correction).
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE_TABLE_II)
def test_difference_interval_matches_newcombe_table_ii(counts, expected):
    # when
    interval = difference_interval(*counts)

    # then
    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == expected


def test_compare_gives_the_point_estimate_interval_and_relative_uplift():
    # when
    result = compare(56, 70, 48, 80)

    # then
    assert result.rate_a == pytest.approx(0.8)
    assert result.rate_b == pytest.approx(0.6)
    assert result.difference == pytest.approx(0.2)
    assert result.interval is not None
    assert round(result.interval.low, 4) == 0.0524
    assert result.relative == pytest.approx(1 / 3)


def test_wilson_interval_matches_newcombe_single_proportion_example():
    # Newcombe (1998), "Two-sided confidence intervals for the single proportion", 81/263.
    interval = wilson_interval(81, 263)

    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.2553, 0.3662)


def test_wilson_interval_at_zero_and_all():
    # when
    none = wilson_interval(0, 10)
    all_ = wilson_interval(10, 10)

    # then: not degenerate, and touching the bound
    assert none is not None
    assert all_ is not None
    assert none.low == 0.0
    assert round(none.high, 4) == 0.2775
    assert all_.high == 1.0
    assert round(all_.low, 4) == 0.7225


def test_no_trials_are_undefined_not_nan():
    assert proportion(0, 0) is None
    assert wilson_interval(0, 0) is None
    assert difference_interval(0, 0, 3, 10) is None
    assert difference_interval(3, 10, 0, 0) is None
    result = compare(0, 0, 0, 0)
    assert (result.rate_a, result.rate_b, result.difference, result.interval) == (
        None,
        None,
        None,
        None,
    )
    assert result.relative is None


def test_relative_uplift_is_undefined_over_a_zero_baseline():
    assert relative_uplift(5, 10, 0, 10) is None
    assert relative_uplift(5, 10, 5, 20) == pytest.approx(1.0)
    assert relative_uplift(0, 10, 5, 10) == pytest.approx(-1.0)


@pytest.mark.parametrize(("successes", "trials"), [(-1, 5), (6, 5), (0, -1)])
def test_impossible_counts_are_refused(successes, trials):
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(successes, trials)


# --- properties ----------------------------------------------------------------------


@st.composite
def two_samples(draw: st.DrawFn, max_trials: int = 5000) -> tuple[int, int, int, int]:
    trials_a = draw(st.integers(1, max_trials))
    trials_b = draw(st.integers(1, max_trials))
    return (
        draw(st.integers(0, trials_a)),
        trials_a,
        draw(st.integers(0, trials_b)),
        trials_b,
    )


@given(two_samples())
def test_interval_contains_the_point_estimate(counts):
    successes_a, trials_a, successes_b, trials_b = counts
    interval = difference_interval(*counts)
    d = successes_a / trials_a - successes_b / trials_b

    assert interval is not None
    assert interval.low <= d <= interval.high
    assert not math.isnan(interval.low)
    assert not math.isnan(interval.high)


@given(two_samples())
def test_interval_stays_within_minus_one_and_one(counts):
    interval = difference_interval(*counts)

    assert interval is not None
    assert -1.0 <= interval.low <= interval.high <= 1.0


@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_contains_the_rate_within_zero_and_one(counts):
    successes, trials = counts
    interval = wilson_interval(successes, trials)

    assert interval is not None
    assert 0.0 <= interval.low <= successes / trials <= interval.high <= 1.0


@given(two_samples(max_trials=500), st.integers(2, 20))
def test_interval_narrows_as_samples_grow_at_the_same_rates(counts, factor):
    # given: the same rates, `factor` times the carts
    successes_a, trials_a, successes_b, trials_b = counts
    small = difference_interval(*counts)
    large = difference_interval(
        successes_a * factor, trials_a * factor, successes_b * factor, trials_b * factor
    )

    # then
    assert small is not None
    assert large is not None
    assert large.high - large.low < small.high - small.low
