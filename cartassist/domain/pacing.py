"""Pacing outreach to the helpdesk's capacity (docs/ANALYTICS.md, "Helpdesk pacing"; ADR 0024).

Pure: numbers and datetimes in, numbers out, ``now`` passed in. Three parts:

1. **How many follow-ups an invitation causes.** ``follow_up_rates``: the share of
   invitations followed by a helpdesk contact within the pacing delay window, per stall
   reason, by beta-binomial shrinkage: the overall rate is shrunk towards the documented
   prior rate, and each reason's rate towards the overall one, each with a prior
   strength counted in pseudo-invitations (empirical Bayes; Efron & Morris 1975).
2. **When they arrive.** ``delay_curve``: the hourly histogram of delays from outreach
   to the first follow-up contact, shrunk towards a documented default shape
   (``default_delay_shape``: geometric decay with a half-life) while contacts are few.
   ``spread`` places an invitation's expected contacts on the helpdesk's clock hours.
3. **Whether the helpdesk can absorb them.** ``helpdesk_backlog``: a fluid queue over
   clock hours (expected arrivals in, capacity out, what is left waits for the next
   hour); ``pacing_allows``: no expected contact is left waiting at the end of any hour
   the helpdesk is open, from the current hour to the end of the horizon (and, when a
   backlog remains then, until the next open hour absorbs it).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)
DAYS_IN_WEEK = 7
HOURS_IN_DAY = 24
# A backlog below this many expected contacts counts as none (floating-point dust).
TOLERANCE = 1e-6
# How far the queue is followed past the horizon looking for an open hour (one week).
MAX_CARRY_HOURS = DAYS_IN_WEEK * HOURS_IN_DAY


class PacingOutcome(enum.Enum):
    """What pacing made of an invitation the other rules allowed."""

    INVITE = "invite"
    WAIT = "wait"  # stays due; retried after CARTASSIST_PACING_RETRY_SECONDS
    HELPDESK_BUSY = "helpdesk_busy"  # waited too long: suppressed


@dataclass(frozen=True, slots=True)
class PacingPrior:
    """What pacing assumes before (and while) data are few.

    ``rate``: the share of invitations followed by a helpdesk contact before any data.
    ``rate_strength``: pseudo-invitations behind it (the overall rate's shrinkage).
    ``reason_strength``: pseudo-invitations of the overall rate behind each reason's rate.
    ``half_life_hours``: the default delay shape halves every this many hours.
    ``curve_strength``: pseudo-contacts behind the default delay shape.
    """

    rate: float = 0.10
    rate_strength: float = 20.0
    reason_strength: float = 50.0
    half_life_hours: float = 4.0
    curve_strength: float = 20.0


@dataclass(frozen=True, slots=True)
class FollowUpCounts:
    """Per stall reason: invitations whose delay window has closed, and how many of them
    were followed by a helpdesk contact within it."""

    invitations: int
    followed_up: int


@dataclass(frozen=True, slots=True)
class FollowUpModel:
    """The expected follow-ups of one invitation: ``rates`` by stall reason (``overall``
    for any other reason) spread over ``curve`` (hour k after outreach → share)."""

    rates: Mapping[str, float]
    overall: float
    curve: tuple[float, ...]

    def rate(self, stall_reason: str) -> float:
        return self.rates.get(stall_reason, self.overall)


def shrunk_rate(successes: float, trials: float, *, towards: float, strength: float) -> float:
    """The posterior mean of a rate under a Beta prior of mean ``towards`` worth
    ``strength`` pseudo-trials: ``(successes + strength·towards) / (trials + strength)``.

    With no trials it is ``towards``; as trials grow it tends to ``successes / trials``;
    it always lies between the two (Efron & Morris 1975; the beta-binomial model).
    """
    if trials + strength <= 0:
        return towards
    return (successes + strength * towards) / (trials + strength)


def follow_up_rates(
    counts: Mapping[str, FollowUpCounts], *, prior: PacingPrior
) -> tuple[dict[str, float], float]:
    """Each stall reason's follow-up rate and the overall rate, shrunk (two levels):

    1. overall = the pooled rate shrunk towards ``prior.rate`` by ``prior.rate_strength``;
    2. each reason = its own rate shrunk towards the overall by ``prior.reason_strength``.
    """
    trials = sum(c.invitations for c in counts.values())
    successes = sum(c.followed_up for c in counts.values())
    overall = shrunk_rate(successes, trials, towards=prior.rate, strength=prior.rate_strength)
    rates = {
        reason: shrunk_rate(
            c.followed_up, c.invitations, towards=overall, strength=prior.reason_strength
        )
        for reason, c in counts.items()
    }
    return rates, overall


def default_delay_shape(hours: int, *, half_life_hours: float) -> tuple[float, ...]:
    """The delay shape assumed before any contact: the share of follow-ups in hour k
    after outreach falls geometrically, halving every ``half_life_hours``; sums to 1."""
    if hours <= 0:
        return ()
    decay = 0.5 ** (1.0 / half_life_hours) if half_life_hours > 0 else 0.0
    weights = [decay**k for k in range(hours)]
    total = sum(weights)
    return tuple(w / total for w in weights)


def delay_histogram(delays: Iterable[timedelta], *, hours: int) -> list[int]:
    """Counts of delays per whole hour after outreach (hour 0 = the first hour); delays
    outside ``[0, hours)`` are left out."""
    counts = [0] * hours
    for delay in delays:
        k = math.floor(delay / HOUR)
        if 0 <= k < hours:
            counts[k] += 1
    return counts


def delay_curve(counts: Sequence[int], *, prior: PacingPrior) -> tuple[float, ...]:
    """The hourly delay distribution: the observed histogram shrunk towards the default
    shape, ``(count_k + s·shape_k) / (n + s)`` with ``s = prior.curve_strength``; sums
    to 1 and equals the default shape with no data."""
    shape = default_delay_shape(len(counts), half_life_hours=prior.half_life_hours)
    n = sum(counts)
    s = prior.curve_strength
    if n + s <= 0:
        return shape
    return tuple((c + s * p) / (n + s) for c, p in zip(counts, shape, strict=True))


def hour_start(moment: datetime, *, timezone: str) -> datetime:
    """The start of the site's local clock hour holding ``moment``, in UTC (so that
    adding hours is absolute time; the offset's minutes are kept: half-hour zones work)."""
    local = moment.astimezone(ZoneInfo(timezone))
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def spread(
    at: datetime, expected: float, curve: Sequence[float], *, start: datetime, hours: int
) -> list[float]:
    """``expected`` contacts from an invitation at ``at``, placed on ``hours`` one-hour
    buckets from ``start``: the curve's hour k covers ``[at + k h, at + (k+1) h)``, its
    share split between the buckets it overlaps in proportion to the overlap."""
    buckets = [0.0] * hours
    offset = (at - start) / HOUR  # where the invitation falls, in buckets
    for k, share in enumerate(curve):
        low = offset + k
        first = math.floor(low)
        inside = first + 1 - low  # the part of hour k in bucket ``first``
        for index, part in ((first, inside), (first + 1, 1.0 - inside)):
            if 0 <= index < hours and part > 0:
                buckets[index] += expected * share * part
    return buckets


def weekly_capacity(grid: Sequence[Sequence[int]], moment: datetime, *, timezone: str) -> int:
    """Contacts per hour the helpdesk absorbs in the local hour holding ``moment``;
    ``grid[weekday][hour]``, Monday = 0, in the site's time zone."""
    local = moment.astimezone(ZoneInfo(timezone))
    return int(grid[local.weekday()][local.hour])


@dataclass(frozen=True, slots=True)
class HelpdeskLoad:
    """The helpdesk's clock hours from ``start`` (the hour ``lookback`` hours before the
    current one): capacity and the expected arrivals of past invitations, per hour.

    ``current`` is the index of the hour holding ``now``; ``backlog_floor`` is the queue
    the helpdesk reported itself (live), a floor on the current hour's starting backlog.
    """

    start: datetime
    current: int
    capacity: tuple[float, ...]
    arrivals: tuple[float, ...]
    backlog_floor: float = 0.0


def helpdesk_backlog(load: HelpdeskLoad, extra: Sequence[float] | None = None) -> list[float]:
    """The expected queue at the end of each hour (fluid model): what arrives joins the
    queue, the hour's capacity serves it, the rest waits for the next hour. At the
    current hour, the queue is at least the helpdesk's own reported backlog."""
    backlog = 0.0
    queue = []
    for index, capacity in enumerate(load.capacity):
        if index == load.current:
            backlog = max(backlog, load.backlog_floor)
        arriving = load.arrivals[index] + (extra[index] if extra else 0.0)
        backlog = max(0.0, backlog + arriving - capacity)
        queue.append(backlog)
    return queue


def pacing_allows(load: HelpdeskLoad, extra: Sequence[float], *, horizon: int) -> bool:
    """Whether the helpdesk absorbs ``extra`` on top of what it expects: at the end of
    every open hour (capacity > 0) from the current hour through ``horizon`` hours, no
    expected contact is left waiting; a backlog left at the horizon must be gone by the
    end of the next open hour (looked for up to a week ahead)."""
    queue = helpdesk_backlog(load, extra)
    last = min(load.current + horizon, len(queue))
    for index in range(load.current, last):
        if load.capacity[index] > 0 and queue[index] > TOLERANCE:
            return False
    if last == 0 or queue[last - 1] <= TOLERANCE:
        return True
    for index in range(last, len(queue)):
        if load.capacity[index] > 0:
            return queue[index] <= TOLERANCE
    return False  # closed all week: nothing it would cause can be absorbed


def pacing_outcome(
    *, allowed: bool, now: datetime, due_since: datetime, max_wait: timedelta
) -> PacingOutcome:
    """Invite when the helpdesk can absorb it; else wait while the stall is younger than
    ``max_wait`` (counted from the stall deadline it was first due at), then give up."""
    if allowed:
        return PacingOutcome.INVITE
    if now - due_since < max_wait:
        return PacingOutcome.WAIT
    return PacingOutcome.HELPDESK_BUSY


def retry_at(
    *, now: datetime, due_since: datetime, retry: timedelta, max_wait: timedelta
) -> datetime:
    """When a waiting invitation is decided again: after ``retry``, and no later than the
    end of its wait (when it is suppressed if the helpdesk is still busy)."""
    return min(now + retry, due_since + max_wait)
