"""Pure suppression rules: their order, the frequency cap, quiet hours. No database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cartassist.domain.suppression import (
    SuppressionContext,
    SuppressionReason,
    first_suppression_reason,
    in_quiet_hours,
)

# A Tuesday in March: Europe/Berlin is UTC+1 (daylight saving starts on 29 March 2026).
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

BASE = SuppressionContext(
    now=NOW,
    opted_out=False,
    last_invited_at=None,
    frequency_cap=timedelta(hours=24),
    timezone="Europe/Berlin",
    quiet_hours_start=None,
    quiet_hours_end=None,
    agent_available=True,
)

times = st.times().map(lambda t: t.replace(microsecond=0))
utc_moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])


def test_no_reason_when_nothing_forbids_outreach():
    # when
    reason = first_suppression_reason(BASE)
    # then
    assert reason is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"opted_out": True}, SuppressionReason.OPTED_OUT),
        ({"last_invited_at": NOW - timedelta(hours=1)}, SuppressionReason.FREQUENCY_CAP),
        (
            {"quiet_hours_start": time(12, 0), "quiet_hours_end": time(14, 0)},
            SuppressionReason.QUIET_HOURS,
        ),
        ({"agent_available": False}, SuppressionReason.NO_AGENT_AVAILABLE),
    ],
)
def test_each_rule_suppresses_on_its_own(changes, expected):
    # given
    ctx = dataclasses.replace(BASE, **changes)
    # when
    reason = first_suppression_reason(ctx)
    # then
    assert reason == expected


def test_rules_apply_in_a_fixed_order():
    # given: every rule forbids outreach
    ctx = dataclasses.replace(
        BASE,
        opted_out=True,
        last_invited_at=NOW - timedelta(hours=1),
        quiet_hours_start=time(0, 0),
        quiet_hours_end=time(23, 59),
        agent_available=False,
    )
    # when
    reasons = []
    for lift in ({}, {"opted_out": False}, {"last_invited_at": None}, {"quiet_hours_start": None}):
        ctx = dataclasses.replace(ctx, **lift)
        reasons.append(first_suppression_reason(ctx))
    # then
    assert reasons == [
        SuppressionReason.OPTED_OUT,
        SuppressionReason.FREQUENCY_CAP,
        SuppressionReason.QUIET_HOURS,
        SuppressionReason.NO_AGENT_AVAILABLE,
    ]


@pytest.mark.parametrize(
    ("invited_ago", "expected"),
    [
        (timedelta(0), SuppressionReason.FREQUENCY_CAP),
        (timedelta(hours=23, minutes=59, seconds=59), SuppressionReason.FREQUENCY_CAP),
        (timedelta(hours=24), None),
        (timedelta(days=3), None),
    ],
)
def test_frequency_cap_holds_for_exactly_the_cap(invited_ago, expected):
    # given
    ctx = dataclasses.replace(BASE, last_invited_at=NOW - invited_ago)
    # when
    reason = first_suppression_reason(ctx)
    # then
    assert reason == expected


def test_a_zero_frequency_cap_never_suppresses():
    # given
    ctx = dataclasses.replace(BASE, last_invited_at=NOW, frequency_cap=timedelta(0))
    # when
    reason = first_suppression_reason(ctx)
    # then
    assert reason is None


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        # Europe/Berlin is UTC+1 on these dates; quiet from 09:00 to 17:00 local.
        (datetime(2026, 3, 10, 7, 59, 59, tzinfo=UTC), False),  # 08:59:59 local
        (datetime(2026, 3, 10, 8, 0, tzinfo=UTC), True),  # 09:00 local: start is inclusive
        (datetime(2026, 3, 10, 15, 59, 59, tzinfo=UTC), True),
        (datetime(2026, 3, 10, 16, 0, tzinfo=UTC), False),  # 17:00 local: end is exclusive
    ],
)
def test_quiet_hours_within_one_day_in_the_site_timezone(utc, expected):
    # when
    quiet = in_quiet_hours(utc, timezone="Europe/Berlin", start=time(9, 0), end=time(17, 0))
    # then
    assert quiet is expected


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        # Quiet from 22:00 to 07:00 Berlin time (UTC+1), wrapping past midnight.
        (datetime(2026, 3, 10, 20, 59, tzinfo=UTC), False),  # 21:59 local
        (datetime(2026, 3, 10, 21, 0, tzinfo=UTC), True),  # 22:00 local
        (datetime(2026, 3, 10, 23, 30, tzinfo=UTC), True),  # 00:30 local, next day
        (datetime(2026, 3, 11, 5, 59, 59, tzinfo=UTC), True),  # 06:59:59 local
        (datetime(2026, 3, 11, 6, 0, tzinfo=UTC), False),  # 07:00 local
        (datetime(2026, 3, 11, 11, 0, tzinfo=UTC), False),  # noon local
    ],
)
def test_quiet_hours_wrap_past_midnight(utc, expected):
    # when
    quiet = in_quiet_hours(utc, timezone="Europe/Berlin", start=time(22, 0), end=time(7, 0))
    # then
    assert quiet is expected


def test_quiet_hours_follow_daylight_saving_time():
    # given: 21:30 UTC is 22:30 in Berlin in winter but 23:30 in summer
    winter = datetime(2026, 1, 15, 21, 30, tzinfo=UTC)
    summer = datetime(2026, 7, 15, 21, 30, tzinfo=UTC)
    window = {"timezone": "Europe/Berlin", "start": time(23, 0), "end": time(6, 0)}
    # when / then
    assert (in_quiet_hours(winter, **window), in_quiet_hours(summer, **window)) == (False, True)


def test_the_same_moment_is_quiet_in_one_timezone_and_not_in_another():
    # given: 23:00 UTC is midnight in Berlin, 18:00 in New York
    moment = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)
    # when
    berlin = in_quiet_hours(moment, timezone="Europe/Berlin", start=time(22), end=time(7))
    new_york = in_quiet_hours(moment, timezone="America/New_York", start=time(22), end=time(7))
    # then
    assert (berlin, new_york) == (True, False)


@pytest.mark.parametrize(
    ("start", "end"), [(None, None), (time(22), None), (None, time(7)), (time(8), time(8))]
)
def test_no_quiet_hours_unless_both_ends_differ(start, end):
    # when
    quiet = in_quiet_hours(NOW, timezone="UTC", start=start, end=end)
    # then
    assert quiet is False


@given(moment=utc_moments, start=times, end=times, zone=zones)
def test_swapping_the_ends_gives_the_complementary_window(moment, start, end, zone):
    # given: [start, end) and [end, start) split the day between them
    assume(start != end)
    # when
    quiet = in_quiet_hours(moment, timezone=zone, start=start, end=end)
    swapped = in_quiet_hours(moment, timezone=zone, start=end, end=start)
    # then
    assert quiet is not swapped


@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    start=times,
    end=times,
    zone=st.sampled_from(["UTC", "Asia/Kolkata"]),  # no daylight saving: every time exists
)
def test_the_start_is_quiet_and_the_end_is_not(day, start, end, zone):
    # given: the two ends of the window as local wall-clock moments in the site's zone
    assume(start != end)
    at_start = datetime.combine(day, start, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    at_end = datetime.combine(day, end, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    # when
    quiet_at_start = in_quiet_hours(at_start, timezone=zone, start=start, end=end)
    quiet_at_end = in_quiet_hours(at_end, timezone=zone, start=start, end=end)
    # then
    assert (quiet_at_start, quiet_at_end) == (True, False)
