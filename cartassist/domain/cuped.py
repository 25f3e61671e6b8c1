"""CUPED: a narrower uplift interval from what was known before outreach (docs/
ANALYTICS.md, "Variance reduction (CUPED)").

Pure. Deng, Xu, Kohavi & Walker (2013), "Improving the sensitivity of online controlled
experiments by utilizing pre-experiment data" (WSDM '13): subtract from each outcome
``Y`` the part a covariate vector ``X`` fixed before the treatment predicts,
``Y − θ'(X − E X)``, with ``θ = Cov(X)⁻¹ Cov(X, Y)``. Because ``X`` cannot be moved by
outreach, the adjusted difference estimates the same uplift; its variance is
``(1 − R²)`` times the plain one, ``R²`` being how much of the outcome ``X`` explains.

The covariates are those the sweep knows when it decides: the log of the cart value
(``v = ln(1 + cart_value)``), the checkout stage, the stall reason (one indicator per
level but the first) and whether the shopper is returning. They arrive as *cells*:
sums over the carts sharing (arm, stage, stall reason, returning) of ``1``, ``y``, ``v``,
``v²`` and ``v·y`` — every sum of squares and cross-product the estimate needs, since
the indicators are constant within a cell. The analytics keep these sums in their daily
rollups, so CUPED costs no scan of the interventions.

``θ`` is estimated from the pooled within-arm covariances (the arms' mean differences in
``X`` are chance, not signal); indicator columns that are constant or collinear are
dropped (their coefficient is 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from cartassist.domain.sequential import (
    ALPHA,
    DEFAULT_TUNED_FOR,
    ConfidenceSequence,
    normal_quantile,
    sequence_for,
    smoothed_variance,
)
from cartassist.domain.uplift import Interval

# A pivot below this share of its column's variance counts as collinear.
COLLINEAR = 1e-9


@dataclass(frozen=True)
class Cell:
    """Sums over the randomised carts of one arm sharing the categorical covariates."""

    treated: bool
    stage: str
    stall_reason: str
    returning: bool
    n: int
    converted: int
    value_sum: float
    value_sq_sum: float
    value_converted_sum: float


@dataclass(frozen=True)
class Cuped:
    """The CUPED estimate of the uplift with its fixed-horizon interval and its
    confidence sequence; ``variance_reduction`` is ``1 − var(CUPED) / var(plain)`` of the
    difference estimate (0.3: the interval is ``sqrt(0.7) ≈ 84 %`` as wide)."""

    estimate: float | None
    interval: Interval | None
    sequence: ConfidenceSequence
    plain_variance: float | None
    variance: float | None
    variance_reduction: float | None
    covariates: list[str]


@dataclass
class _Moments:
    """Raw sums of one arm: n, Σy, Σx, Σxxᵀ, Σxy."""

    n: float
    y: float
    x: list[float]
    xx: list[list[float]]
    xy: list[float]


def _features(cells: list[Cell]) -> list[tuple[str, str]]:
    """The covariate columns: ("value", ""), then one indicator per level but the first
    of stage and stall reason, and ("returning", "")."""
    stages = sorted({c.stage for c in cells})
    reasons = sorted({c.stall_reason for c in cells})
    return [
        ("value", ""),
        *(("stage", s) for s in stages[1:]),
        *(("stall_reason", r) for r in reasons[1:]),
        ("returning", ""),
    ]


def _indicator(cell: Cell, feature: tuple[str, str]) -> float:
    kind, level = feature
    if kind == "stage":
        return float(cell.stage == level)
    if kind == "stall_reason":
        return float(cell.stall_reason == level)
    return float(cell.returning)


def _moments(cells: Iterable[Cell], features: list[tuple[str, str]]) -> _Moments:
    k = len(features)
    m = _Moments(0.0, 0.0, [0.0] * k, [[0.0] * k for _ in range(k)], [0.0] * k)
    for cell in cells:
        # Per-unit sums of each column within the cell: the value column varies, the
        # indicators are constant (d·d = d, d·v = d·Σv, d·y = d·Σy).
        d = [1.0] + [_indicator(cell, f) for f in features[1:]]
        m.n += cell.n
        m.y += cell.converted
        for i in range(k):
            m.x[i] += cell.value_sum if i == 0 else d[i] * cell.n
            m.xy[i] += cell.value_converted_sum if i == 0 else d[i] * cell.converted
            for j in range(k):
                if i == 0 and j == 0:
                    m.xx[i][j] += cell.value_sq_sum
                elif i == 0 or j == 0:
                    m.xx[i][j] += d[max(i, j)] * cell.value_sum
                else:
                    m.xx[i][j] += d[i] * d[j] * cell.n
    return m


def _centred(m: _Moments) -> tuple[float, list[float], list[list[float]]]:
    """Within-arm sums of squares about the arm's means: Syy, Sxy, Sxx."""
    k = len(m.x)
    syy = m.y - m.y * m.y / m.n  # y² = y
    sxy = [m.xy[i] - m.x[i] * m.y / m.n for i in range(k)]
    sxx = [[m.xx[i][j] - m.x[i] * m.x[j] / m.n for j in range(k)] for i in range(k)]
    return syy, sxy, sxx


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """``matrix⁻¹ vector`` for a symmetric positive semi-definite matrix, by Gauss–Jordan
    elimination with full pivoting on the diagonal; columns whose pivot vanishes
    (constant or collinear covariates) get coefficient 0."""
    k = len(vector)
    a = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    scale = [abs(matrix[i][i]) for i in range(k)]
    used: list[int] = []
    remaining = set(range(k))
    while remaining:
        pivot = max(remaining, key=lambda i: abs(a[i][i]) / scale[i] if scale[i] else 0.0)
        remaining.discard(pivot)
        if not scale[pivot] or abs(a[pivot][pivot]) <= COLLINEAR * scale[pivot]:
            continue
        used.append(pivot)
        p = a[pivot][pivot]
        for row in range(k):
            if row != pivot and a[row][pivot]:
                factor = a[row][pivot] / p
                for col in range(k + 1):
                    a[row][col] -= factor * a[pivot][col]
    theta = [0.0] * k
    for i in used:
        theta[i] = a[i][k] / a[i][i]
    return theta


def cuped(
    cells: Iterable[Cell],
    *,
    alpha: float = ALPHA,
    tuned_for: int = DEFAULT_TUNED_FOR,
) -> Cuped:
    """The CUPED-adjusted uplift ``p_invited − p_held_out`` from ``cells``."""
    cells = [c for c in cells if c.n > 0]
    features = _features(cells)
    names = [kind if not level else f"{kind}={level}" for kind, level in features]
    treated = _moments((c for c in cells if c.treated), features)
    control = _moments((c for c in cells if not c.treated), features)
    if treated.n < 2 or control.n < 2:
        return Cuped(None, None, sequence_for(None, 0, None), None, None, None, names)
    k = len(features)
    arms = [_centred(treated), _centred(control)]
    pooled_xx = [[arms[0][2][i][j] + arms[1][2][i][j] for j in range(k)] for i in range(k)]
    pooled_xy = [arms[0][1][i] + arms[1][1][i] for i in range(k)]
    theta = _solve(pooled_xx, pooled_xy)

    def arm_variance(
        m: _Moments, centred: tuple[float, list[float], list[list[float]]]
    ) -> tuple[float, float]:
        """Variance of y in the arm (Bernoulli, at the smoothed rate, as the plain
        sequence takes it) and of the adjusted y = y − θ'x: the smoothed variance times
        the share of the arm's sum of squares the adjustment leaves."""
        syy, sxy, sxx = centred
        adjusted = (
            syy
            - 2 * sum(theta[i] * sxy[i] for i in range(k))
            + sum(theta[i] * theta[j] * sxx[i][j] for i in range(k) for j in range(k))
        )
        plain_variance = smoothed_variance(int(m.y), int(m.n))
        left = max(adjusted, 0.0) / syy if syy > 0 else 1.0
        return plain_variance, plain_variance * left

    plain_a, adjusted_a = arm_variance(treated, arms[0])
    plain_b, adjusted_b = arm_variance(control, arms[1])
    plain = plain_a / treated.n + plain_b / control.n
    variance = adjusted_a / treated.n + adjusted_b / control.n
    shift = sum(theta[i] * (treated.x[i] / treated.n - control.x[i] / control.n) for i in range(k))
    estimate = treated.y / treated.n - control.y / control.n - shift
    half = normal_quantile(1 - alpha / 2) * math.sqrt(variance)
    t = int(treated.n + control.n)
    return Cuped(
        estimate=estimate,
        interval=Interval(max(-1.0, estimate - half), min(1.0, estimate + half)),
        sequence=sequence_for(estimate, t, t * variance, alpha=alpha, tuned_for=tuned_for),
        plain_variance=plain,
        variance=variance,
        variance_reduction=1 - variance / plain if plain > 0 else None,
        covariates=names,
    )
