"""Pacing's pure rules: shrinkage, the delay curve and its spread, the helpdesk's queue
(cartassist/domain/pacing.py; docs/ANALYTICS.md "Helpdesk pacing"). No database."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartassist.domain.pacing import (
    HOUR,
    FollowUpCounts,
    HelpdeskLoad,
    PacingOutcome,
    PacingPrior,
    default_delay_shape,
    delay_curve,
    delay_histogram,
    follow_up_rates,
    helpdesk_backlog,
    hour_start,
    pacing_allows,
    pacing_outcome,
    retry_at,
    shrunk_rate,
    spread,
    weekly_capacity,
)

PRIOR = PacingPrior()
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday

rates = st.floats(min_value=0, max_value=1)
strengths = st.floats(min_value=0.5, max_value=1000)


@st.composite
def binomial(draw: st.DrawFn) -> tuple[int, int]:
    trials = draw(st.integers(min_value=0, max_value=10_000))
    return draw(st.integers(min_value=0, max_value=trials)), trials


# Shrinkage ---------------------------------------------------------------------------


@given(binomial(), rates, strengths)
def test_a_shrunk_rate_lies_between_the_observed_rate_and_the_target(data, towards, strength):
    successes, trials = data
    # when
    rate = shrunk_rate(successes, trials, towards=towards, strength=strength)
    # then
    observed = successes / trials if trials else towards
    assert min(observed, towards) - 1e-12 <= rate <= max(observed, towards) + 1e-12


@given(rates, strengths)
def test_with_no_data_the_shrunk_rate_is_the_target(towards, strength):
    assert shrunk_rate(0, 0, towards=towards, strength=strength) == pytest.approx(towards)


@given(st.integers(min_value=0, max_value=100), rates, strengths)
def test_more_data_at_the_same_rate_pulls_the_estimate_towards_it(percent, towards, strength):
    # given: the same observed rate with 100 and with 10 000 trials
    small = shrunk_rate(percent, 100, towards=towards, strength=strength)
    large = shrunk_rate(percent * 100, 10_000, towards=towards, strength=strength)
    # then: the larger sample is at least as close to the observed rate
    observed = percent / 100
    assert abs(large - observed) <= abs(small - observed) + 1e-12


@given(binomial(), rates, strengths)
def test_a_shrunk_rate_grows_with_successes(data, towards, strength):
    successes, trials = data
    if successes == trials:
        return
    lower = shrunk_rate(successes, trials, towards=towards, strength=strength)
    higher = shrunk_rate(successes + 1, trials, towards=towards, strength=strength)
    assert higher >= lower


def test_before_any_data_every_reason_has_the_prior_rate():
    # when
    by_reason, overall = follow_up_rates({}, prior=PRIOR)
    # then
    assert (by_reason, overall) == ({}, 0.10)


def test_a_reason_with_few_invitations_stays_near_the_overall_rate():
    # given: a well-measured reason at 30 % and a reason seen twice, both followed up
    counts = {
        "idle": FollowUpCounts(invitations=1000, followed_up=300),
        "payment_failed": FollowUpCounts(invitations=2, followed_up=2),
    }
    # when
    by_reason, overall = follow_up_rates(counts, prior=PRIOR)
    # then: overall = (302 + 20·0.10) / (1002 + 20); the rare reason barely moves from it
    assert overall == pytest.approx(304 / 1022)
    assert by_reason["payment_failed"] == pytest.approx((2 + 50 * overall) / 52)
    assert by_reason["idle"] == pytest.approx((300 + 50 * overall) / 1050)


# The delay curve ----------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=200), st.floats(min_value=0.1, max_value=100))
def test_the_default_shape_is_a_decreasing_distribution(hours, half_life):
    shape = default_delay_shape(hours, half_life_hours=half_life)
    assert math.isclose(sum(shape), 1.0)
    assert all(a >= b for a, b in zip(shape, shape[1:], strict=False))


def test_the_default_shape_halves_every_half_life():
    shape = default_delay_shape(48, half_life_hours=4)
    assert shape[4] == pytest.approx(shape[0] / 2)


@given(st.lists(st.integers(min_value=0, max_value=500), min_size=1, max_size=72))
def test_the_delay_curve_is_a_distribution_between_data_and_default(counts):
    # when
    curve = delay_curve(counts, prior=PRIOR)
    # then
    assert math.isclose(sum(curve), 1.0)
    shape = default_delay_shape(len(counts), half_life_hours=PRIOR.half_life_hours)
    n = sum(counts)
    for k, share in enumerate(curve):
        observed = counts[k] / n if n else shape[k]
        assert min(observed, shape[k]) - 1e-12 <= share <= max(observed, shape[k]) + 1e-12


def test_with_no_contacts_the_delay_curve_is_the_default_shape():
    assert delay_curve([0] * 48, prior=PRIOR) == pytest.approx(
        default_delay_shape(48, half_life_hours=4)
    )


def test_delays_are_counted_per_whole_hour_and_out_of_range_ones_left_out():
    delays = [timedelta(minutes=5), timedelta(minutes=59), timedelta(hours=1), timedelta(hours=3)]
    assert delay_histogram([*delays, timedelta(hours=-1)], hours=3) == [2, 1, 0]


@given(
    st.floats(min_value=0, max_value=50),
    st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=48),
    st.integers(min_value=0, max_value=3599),
)
def test_spreading_keeps_the_expected_contacts_that_fall_in_range(expected, curve, seconds):
    # given: an invitation inside the first bucket, buckets long enough for the curve
    at = T0 + timedelta(seconds=seconds)
    # when
    buckets = spread(at, expected, curve, start=T0, hours=len(curve) + 1)
    # then: nothing is lost or made up, and nothing lands before the invitation's hour
    assert sum(buckets) == pytest.approx(expected * sum(curve), abs=1e-9)
    assert all(b >= 0 for b in buckets)


def test_an_hour_of_the_curve_is_split_between_the_clock_hours_it_overlaps():
    # given: an invitation at 09:15 whose follow-ups all come in its first hour
    at = T0 + timedelta(minutes=15)
    # when
    buckets = spread(at, 2.0, [1.0, 0.0], start=T0, hours=3)
    # then: 09:15–10:00 is three quarters of it, 10:00–10:15 one quarter
    assert buckets == pytest.approx([1.5, 0.5, 0.0])


# The helpdesk's queue and the decision ------------------------------------------------


def grid(value: int) -> list[list[int]]:
    return [[value] * 24 for _ in range(7)]


def test_capacity_is_read_in_the_sites_time_zone():
    office = grid(0)
    office[0][10] = 7  # Monday 10:00–11:00 local
    # 09:30 UTC is 10:30 in Berlin (winter)
    assert weekly_capacity(office, T0 + timedelta(minutes=30), timezone="Europe/Berlin") == 7
    assert weekly_capacity(office, T0 + timedelta(minutes=30), timezone="UTC") == 0


def test_hour_start_keeps_a_half_hour_offset():
    # 09:10 UTC is 14:40 in Kolkata (+05:30): its hour starts at 14:00 local = 08:30 UTC
    assert hour_start(T0 + timedelta(minutes=10), timezone="Asia/Kolkata") == T0 - timedelta(
        minutes=30
    )


def load(capacity: list[float], arrivals: list[float] | None = None, **kw: float) -> HelpdeskLoad:
    return HelpdeskLoad(
        start=T0,
        current=int(kw.get("current", 0)),
        capacity=tuple(capacity),
        arrivals=tuple(arrivals or [0.0] * len(capacity)),
        backlog_floor=kw.get("backlog_floor", 0.0),
    )


def test_the_queue_carries_over_closed_hours():
    # given: closed, closed, open for 3
    state = load([0, 0, 3], [1, 1, 0])
    # then
    assert helpdesk_backlog(state) == [1, 2, 0]


def test_contacts_left_waiting_at_the_end_of_an_open_hour_refuse_outreach():
    state = load([2, 2, 2], [1.5, 0, 0])
    assert pacing_allows(state, [0.5, 0, 0], horizon=3)
    assert not pacing_allows(state, [0.6, 0, 0], horizon=3)


def test_a_backlog_at_the_horizon_must_be_gone_by_the_next_open_hour():
    # given: the horizon ends in a closed night; the morning absorbs 1
    state = load([1, 0, 0, 1])
    assert pacing_allows(state, [0, 1, 0, 0], horizon=2)
    assert not pacing_allows(state, [0, 1, 1, 0], horizon=2)


def test_the_helpdesks_reported_queue_is_a_floor_on_the_current_hour():
    state = load([5, 5], backlog_floor=4.5)
    assert pacing_allows(state, [0.5, 0], horizon=2)
    assert not pacing_allows(state, [0.6, 0], horizon=2)


def test_past_hours_are_not_checked_but_their_backlog_carries():
    # given: an overloaded past hour (index 0), now at index 1
    state = load([1, 1, 1], [3, 0, 0], current=1)
    # then: 2 left after the past hour, 1 after the current one: refused
    assert helpdesk_backlog(state) == [2, 1, 0]
    assert not pacing_allows(state, [0, 0, 0], horizon=2)


@pytest.mark.parametrize(
    ("allowed", "waited", "expected"),
    [
        (True, timedelta(hours=1), PacingOutcome.INVITE),
        (False, timedelta(minutes=9), PacingOutcome.WAIT),
        (False, timedelta(minutes=10), PacingOutcome.HELPDESK_BUSY),
    ],
)
def test_an_invitation_waits_until_its_stall_is_too_old(allowed, waited, expected):
    now = T0 + waited
    outcome = pacing_outcome(allowed=allowed, now=now, due_since=T0, max_wait=timedelta(minutes=10))
    assert outcome is expected


def test_the_retry_never_comes_after_the_end_of_the_wait():
    wait = timedelta(minutes=10)
    assert retry_at(now=T0, due_since=T0, retry=HOUR, max_wait=wait) == T0 + wait
    assert retry_at(
        now=T0, due_since=T0, retry=timedelta(seconds=30), max_wait=wait
    ) == T0 + timedelta(seconds=30)


@st.composite
def loads_and_extras(draw: st.DrawFn) -> tuple[HelpdeskLoad, list[float], list[float]]:
    hours = draw(st.integers(min_value=1, max_value=30))
    counts = st.floats(min_value=0, max_value=20)
    capacity = draw(
        st.lists(st.integers(min_value=0, max_value=10), min_size=hours, max_size=hours)
    )
    arrivals = draw(st.lists(counts, min_size=hours, max_size=hours))
    larger = draw(st.lists(counts, min_size=hours, max_size=hours))
    shares = draw(st.lists(st.floats(min_value=0, max_value=1), min_size=hours, max_size=hours))
    state = HelpdeskLoad(
        start=T0,
        current=draw(st.integers(min_value=0, max_value=hours - 1)),
        capacity=tuple(float(c) for c in capacity),
        arrivals=tuple(arrivals),
        backlog_floor=draw(counts),
    )
    return state, [a * s for a, s in zip(larger, shares, strict=True)], larger


@given(loads_and_extras(), st.integers(min_value=1, max_value=30))
def test_what_fits_with_more_follow_ups_fits_with_fewer(case, horizon):
    # given: ``smaller`` is at most ``larger`` in every hour
    state, smaller, larger = case
    # then: pacing never refuses the smaller load where it allows the larger one
    if pacing_allows(state, larger, horizon=horizon):
        assert pacing_allows(state, smaller, horizon=horizon)


@given(loads_and_extras())
def test_the_queue_never_goes_negative_and_grows_with_arrivals(case):
    state, smaller, larger = case
    low, high = helpdesk_backlog(state, smaller), helpdesk_backlog(state, larger)
    assert all(q >= 0 for q in low)
    assert all(a <= b + 1e-9 for a, b in zip(low, high, strict=True))
