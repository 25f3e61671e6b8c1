"""The fixed-window rule of every rate limit (docs/adr/0012). No store, no database."""

from __future__ import annotations

import pytest

from cartassist.domain.ratelimit import Decision, Window, decide, retry_after_header, window_hit


def hits(times: list[float], *, limit: int, period: float) -> list[Decision]:
    window = None
    decisions = []
    for now in times:
        window = window_hit(window, now=now, period=period)
        decisions.append(decide(window, now=now, limit=limit, period=period))
    return decisions


def test_the_first_hit_opens_a_window():
    assert window_hit(None, now=100.0, period=60) == Window(start=100.0, count=1)


def test_hits_within_the_window_count_on_it():
    assert window_hit(Window(start=100.0, count=4), now=159.9, period=60) == Window(100.0, 5)


def test_a_hit_after_the_window_opens_a_new_one():
    assert window_hit(Window(start=100.0, count=9), now=160.0, period=60) == Window(160.0, 1)


def test_exactly_the_limit_is_allowed_and_the_rest_learn_when_the_window_ends():
    # when: five hits, two allowed per minute
    decisions = hits([100.0, 110.0, 120.0, 130.0, 159.5], limit=2, period=60)
    # then
    assert decisions == [
        Decision(allowed=True, retry_after=0.0),
        Decision(allowed=True, retry_after=0.0),
        Decision(allowed=False, retry_after=40.0),
        Decision(allowed=False, retry_after=30.0),
        Decision(allowed=False, retry_after=0.5),
    ]


def test_after_the_window_the_limit_is_available_again():
    decisions = hits([100.0, 101.0, 160.0, 161.0], limit=1, period=60)
    assert [d.allowed for d in decisions] == [True, False, True, False]


def test_a_clock_behind_the_window_start_waits_at_most_one_period():
    # given: another process with a clock 30 s ahead opened the window
    window = Window(start=1030.0, count=5)
    # when
    decision = decide(window, now=1000.0, limit=2, period=60)
    # then
    assert decision == Decision(allowed=False, retry_after=60.0)


@pytest.mark.parametrize(("seconds", "header"), [(0.0, "1"), (0.2, "1"), (59.01, "60"), (60, "60")])
def test_retry_after_is_whole_seconds_rounded_up(seconds, header):
    assert retry_after_header(seconds) == header
