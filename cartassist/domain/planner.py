"""The sample-size planner (docs/ANALYTICS.md, "Sample-size planner").

Pure. How many more stalled carts before an uplift of a chosen size would show, at the
held-out conversion rate seen so far, for the current holdout share and for others. Two
answers: the fixed-horizon sample (the classic two-proportion formula with 80 % power,
for a single look at the end, as in Chow, Shao & Wang, "Sample Size Calculations in
Clinical Research", 2nd ed., §4.2) and the sample at which the always-valid sequence
(``sequential.py``), checked at any time, would leave 0 with the same power
(``half_width(t) + z_power · sqrt(s² / t) < uplift``). Carts still to come are counted as
stalled carts, not only randomised ones: only the share of stalled carts that is not
suppressed joins an arm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cartassist.domain.sequential import (
    ALPHA,
    DEFAULT_TUNED_FOR,
    normal_quantile,
    units_to_reach,
)

POWER = 0.8
# Holdout shares the planner compares with the current one.
SHARES = (0.05, 0.1, 0.2, 0.3, 0.5)


@dataclass(frozen=True)
class PlanLine:
    """For one holdout share: randomised carts needed in all (fixed horizon and always
    valid) and stalled carts still needed beyond those seen (``None``: never, e.g. an
    uplift that would take the invited rate beyond 100 %)."""

    holdout_share: float
    current: bool
    randomised_fixed: int | None
    randomised_sequential: int | None
    more_stalled_fixed: int | None
    more_stalled_sequential: int | None


@dataclass(frozen=True)
class Plan:
    """The planner's inputs as used and one line per holdout share."""

    uplift: float
    baseline_rate: float
    holdout_share: float
    randomised_so_far: int
    randomised_share: float
    power: float
    lines: list[PlanLine]


def unit_variance(baseline: float, uplift: float, holdout_share: float) -> float | None:
    """Per randomised cart variance of the difference of rates when the held-out rate is
    ``baseline`` and the invited rate ``baseline + uplift``."""
    invited = baseline + uplift
    if not 0 <= invited <= 1 or not 0 < holdout_share < 1:
        return None
    return invited * (1 - invited) / (1 - holdout_share) + baseline * (1 - baseline) / holdout_share


def _variance(baseline: float, uplift: float, holdout_share: float) -> float | None:
    """``unit_variance``, or ``None`` for a zero uplift (no sample size detects it)."""
    return None if uplift == 0 else unit_variance(baseline, uplift, holdout_share)


def fixed_horizon_carts(
    baseline: float,
    uplift: float,
    holdout_share: float,
    *,
    alpha: float = ALPHA,
    power: float = POWER,
) -> int | None:
    """Randomised carts for a two-sided level-``alpha`` test to detect ``uplift`` with
    ``power``: ``(z_{1−α/2} + z_power)² s² / uplift²``."""
    variance = _variance(baseline, uplift, holdout_share)
    if variance is None:
        return None
    z = normal_quantile(1 - alpha / 2) + normal_quantile(power)
    return max(math.ceil(z * z * variance / (uplift * uplift)), 2)


def sequential_carts(
    baseline: float,
    uplift: float,
    holdout_share: float,
    *,
    alpha: float = ALPHA,
    power: float = POWER,
    tuned_for: int = DEFAULT_TUNED_FOR,
) -> int | None:
    """Randomised carts at which the confidence sequence leaves 0 with ``power``."""
    variance = _variance(baseline, uplift, holdout_share)
    if variance is None:
        return None
    return units_to_reach(
        abs(uplift), variance, alpha=alpha, tuned_for=tuned_for, extra_z=normal_quantile(power)
    )


def _more(needed: int | None, so_far: int, randomised_share: float) -> int | None:
    if needed is None or randomised_share <= 0:
        return None
    return math.ceil(max(needed - so_far, 0) / randomised_share)


def plan(
    *,
    uplift: float,
    baseline_rate: float,
    holdout_share: float,
    randomised_so_far: int,
    randomised_share: float,
    shares: tuple[float, ...] = SHARES,
    alpha: float = ALPHA,
    power: float = POWER,
    tuned_for: int = DEFAULT_TUNED_FOR,
) -> Plan:
    """The plan for ``uplift`` (absolute, 0.05 = 5 points) at ``baseline_rate`` (the
    held-out conversion so far), ``holdout_share`` first, then each of ``shares``."""
    lines = []
    for share in sorted({holdout_share, *shares}):
        fixed = fixed_horizon_carts(baseline_rate, uplift, share, alpha=alpha, power=power)
        sequential = sequential_carts(
            baseline_rate, uplift, share, alpha=alpha, power=power, tuned_for=tuned_for
        )
        lines.append(
            PlanLine(
                holdout_share=share,
                current=share == holdout_share,
                randomised_fixed=fixed,
                randomised_sequential=sequential,
                more_stalled_fixed=_more(fixed, randomised_so_far, randomised_share),
                more_stalled_sequential=_more(sequential, randomised_so_far, randomised_share),
            )
        )
    return Plan(
        uplift=uplift,
        baseline_rate=baseline_rate,
        holdout_share=holdout_share,
        randomised_so_far=randomised_so_far,
        randomised_share=randomised_share,
        power=power,
        lines=lines,
    )
