"""An uplift interval that stays valid however often it is looked at (docs/ANALYTICS.md,
"Always-valid interval").

Pure: counts in, numbers out. The fixed-horizon 95 % interval of ``uplift.py`` holds for
one look at a sample size chosen in advance; a merchandiser who opens the page every day
and stops when it looks good is wrong far more often than 5 % of the time. A
*confidence sequence* (CS) is a sequence of intervals that contains the true uplift at
*every* sample size at once with probability 95 %, so it may be checked after every cart.

The CS here is the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha,
Kennedy & Ramdas (2024, "Time-uniform central limit theory and asymptotic confidence
sequences", Annals of Statistics 52(6), Theorem 2.2 with its two-sided normal-mixture
boundary; the boundary is the Gaussian mixture of Robbins 1970 as developed in Howard,
Ramdas, McAuliffe & Sekhon 2021, "Time-uniform, nonparametric, nonasymptotic confidence
sequences", Annals of Statistics 49(2)). After ``t`` randomised carts with estimate
``d`` and per-cart variance ``s²``::

    d ± sqrt( 2 (t s² ρ² + 1) / (t² ρ²) · log( sqrt(t s² ρ² + 1) / α ) )

``ρ`` sets the sample size where the sequence is tightest; it is chosen for
``tuned_for`` carts (``rho``). The per-cart variance of the difference of two rates is
that of the inverse-probability-weighted estimator: ``s² = t (v_a / n_a + v_b / n_b)``,
the per-arm variances ``v = p (1 − p)`` taken at the rates smoothed as
``(successes + 1) / (trials + 2)``, so that an arm with 0 % or 100 % so far does not
claim a variance of zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from cartassist.domain.uplift import Interval

ALPHA = 0.05
# The sequence is tightest around this many randomised (invited + held out) carts.
DEFAULT_TUNED_FOR = 1000
# Searches for a sample size stop here (nobody waits for more carts than this).
MAX_CARTS = 10**9


def rho(*, tuned_for: int = DEFAULT_TUNED_FOR, alpha: float = ALPHA) -> float:
    """The mixture's ``ρ`` that makes the boundary tightest at ``tuned_for`` carts
    (Waudby-Smith et al. 2024, the closed-form approximation after Theorem 2.2)."""
    if tuned_for < 1:
        raise ValueError("tuned_for must be at least 1")
    log_term = -2 * math.log(alpha)
    return math.sqrt((log_term + math.log(log_term + 1)) / tuned_for)


def half_width(
    t: float, unit_variance: float, *, alpha: float = ALPHA, tuned_for: int = DEFAULT_TUNED_FOR
) -> float:
    """The CS's half-width after ``t`` units whose per-unit variance is ``unit_variance``."""
    if t <= 0:
        return math.inf
    r2 = rho(tuned_for=tuned_for, alpha=alpha) ** 2
    grown = t * max(unit_variance, 0.0) * r2 + 1
    return math.sqrt(2 * grown / (t * t * r2) * math.log(math.sqrt(grown) / alpha))


def smoothed_variance(successes: int, trials: int) -> float:
    """``p (1 − p)`` at ``p = (successes + 1) / (trials + 2)``: never 0."""
    p = (successes + 1) / (trials + 2)
    return p * (1 - p)


def difference_unit_variance(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int
) -> float:
    """Per randomised cart variance of ``p_a − p_b`` (see the module's docstring)."""
    t = trials_a + trials_b
    return t * (
        smoothed_variance(successes_a, trials_a) / trials_a
        + smoothed_variance(successes_b, trials_b) / trials_b
    )


@dataclass(frozen=True)
class ConfidenceSequence:
    """The confidence sequence at the current sample size, and how far it is from a
    verdict: ``carts_to_exclude_zero`` is how many more randomised carts, at the rates
    and arm shares seen so far, would make the sequence leave 0 (``0``: it already
    excludes 0; ``None``: the estimate is 0, so no sample size would, or an arm is
    empty)."""

    estimate: float | None
    interval: Interval | None
    excludes_zero: bool
    carts_to_exclude_zero: int | None


def sequence_for(
    estimate: float | None,
    t: int,
    unit_variance: float | None,
    *,
    alpha: float = ALPHA,
    tuned_for: int = DEFAULT_TUNED_FOR,
) -> ConfidenceSequence:
    """The sequence around ``estimate`` after ``t`` units of ``unit_variance``."""
    if estimate is None or unit_variance is None or t <= 0:
        return ConfidenceSequence(estimate, None, False, None)
    half = half_width(t, unit_variance, alpha=alpha, tuned_for=tuned_for)
    interval = Interval(max(-1.0, estimate - half), min(1.0, estimate + half))
    excludes = interval.low > 0 or interval.high < 0
    more = (
        0
        if excludes
        else units_to_reach(abs(estimate), unit_variance, start=t, alpha=alpha, tuned_for=tuned_for)
    )
    return ConfidenceSequence(
        estimate, interval, excludes, None if more is None else max(more - t, 0)
    )


def difference_sequence(
    successes_a: int,
    trials_a: int,
    successes_b: int,
    trials_b: int,
    *,
    alpha: float = ALPHA,
    tuned_for: int = DEFAULT_TUNED_FOR,
) -> ConfidenceSequence:
    """The CS for ``p_a − p_b`` (a: invited, b: held out); no interval while an arm is
    empty."""
    if trials_a <= 0 or trials_b <= 0:
        return ConfidenceSequence(None, None, False, None)
    estimate = successes_a / trials_a - successes_b / trials_b
    variance = difference_unit_variance(successes_a, trials_a, successes_b, trials_b)
    return sequence_for(estimate, trials_a + trials_b, variance, alpha=alpha, tuned_for=tuned_for)


def units_to_reach(
    width: float,
    unit_variance: float,
    *,
    start: int = 1,
    alpha: float = ALPHA,
    tuned_for: int = DEFAULT_TUNED_FOR,
    extra_z: float = 0.0,
) -> int | None:
    """The smallest ``t ≥ start`` with ``half_width(t) + extra_z · sqrt(v / t) < width``
    (``None`` when ``width`` is 0 or beyond ``MAX_CARTS``). The left side falls with
    ``t`` beyond the tuning point's neighbourhood, so doubling then bisecting finds it."""
    if width <= 0:
        return None

    def short_enough(t: int) -> bool:
        margin = extra_z * math.sqrt(max(unit_variance, 0.0) / t)
        return half_width(t, unit_variance, alpha=alpha, tuned_for=tuned_for) + margin < width

    low = max(start, 1)
    if short_enough(low):
        return low
    high = low * 2
    while not short_enough(high):
        if high > MAX_CARTS:
            return None
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if short_enough(middle):
            high = middle
        else:
            low = middle
    return high


def normal_quantile(p: float) -> float:
    return NormalDist().inv_cdf(p)
