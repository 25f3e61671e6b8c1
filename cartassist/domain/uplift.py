"""Honest statistics for the analytics (docs/ANALYTICS.md, "Uplift and its interval").

Pure: counts in, numbers out. A proportion's interval is Wilson's score interval; the
difference of two proportions (invited − held out) gets Newcombe's hybrid score interval
(method 10 of Newcombe 1998, "Interval estimation for the difference between independent
proportions", Statistics in Medicine 17:873–890), which behaves at 0 % and 100 % and
with small samples, unlike the textbook Wald interval.

Undefined figures are ``None``, never NaN: a rate of 0 carts, an interval without data on
one side, a relative uplift over a baseline of 0 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The 97.5th percentile of the standard normal distribution: a two-sided 95 % interval.
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class Difference:
    """``rate_a − rate_b`` with its interval; ``None`` where it is undefined."""

    rate_a: float | None
    rate_b: float | None
    difference: float | None
    interval: Interval | None
    relative: float | None


def _check(successes: int, trials: int) -> None:
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")


def proportion(successes: int, trials: int) -> float | None:
    """``successes / trials``, or ``None`` for no trials."""
    _check(successes, trials)
    return successes / trials if trials else None


def wilson_interval(successes: int, trials: int, *, z: float = Z_95) -> Interval | None:
    """Wilson's score interval for ``successes / trials`` (no continuity correction), or
    ``None`` for no trials. Stays within [0, 1] and is not degenerate at 0 or 100 %."""
    _check(successes, trials)
    if trials == 0:
        return None
    if successes == 0:
        # Exact forms at the bounds: no rounding error can put the rate outside.
        return Interval(0.0, z * z / (trials + z * z))
    if successes == trials:
        return Interval(trials / (trials + z * z), 1.0)
    p = successes / trials
    z2 = z * z
    denominator = 2 * (trials + z2)
    centre = (2 * trials * p + z2) / denominator
    half = z * math.sqrt(z2 + 4 * trials * p * (1 - p)) / denominator
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def difference_interval(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int, *, z: float = Z_95
) -> Interval | None:
    """Newcombe's hybrid score interval (method 10) for ``p_a − p_b``.

    1. Wilson intervals (l_a, u_a) and (l_b, u_b) for each proportion.
    2. low = d − sqrt((p_a − l_a)² + (u_b − p_b)²)
    3. high = d + sqrt((u_a − p_a)² + (p_b − l_b)²)

    ``None`` when either side has no trials.
    """
    interval_a = wilson_interval(successes_a, trials_a, z=z)
    interval_b = wilson_interval(successes_b, trials_b, z=z)
    if interval_a is None or interval_b is None:
        return None
    p_a, p_b = successes_a / trials_a, successes_b / trials_b
    d = p_a - p_b
    low = d - math.hypot(p_a - interval_a.low, interval_b.high - p_b)
    high = d + math.hypot(interval_a.high - p_a, p_b - interval_b.low)
    return Interval(max(-1.0, min(low, d)), min(1.0, max(high, d)))


def relative_uplift(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int
) -> float | None:
    """``(p_a − p_b) / p_b``: how much higher rate a is than rate b, as a share of b.
    ``None`` when either rate is undefined or the baseline ``p_b`` is 0."""
    p_a, p_b = proportion(successes_a, trials_a), proportion(successes_b, trials_b)
    if p_a is None or p_b is None or p_b == 0:
        return None
    return (p_a - p_b) / p_b


def compare(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> Difference:
    """Everything the analytics show about a comparison of two rates (a: invited,
    b: held out)."""
    p_a, p_b = proportion(successes_a, trials_a), proportion(successes_b, trials_b)
    return Difference(
        rate_a=p_a,
        rate_b=p_b,
        difference=None if p_a is None or p_b is None else p_a - p_b,
        interval=difference_interval(successes_a, trials_a, successes_b, trials_b),
        relative=relative_uplift(successes_a, trials_a, successes_b, trials_b),
    )
