"""Server-side SVG charts for the analytics page: no JavaScript, no CDN.

Pure: numbers in, an SVG string out (every text escaped). Each chart carries a
``<title>`` and ``<desc>`` for screen readers; the page puts a table with the same
figures beside it. Plotted marks have a class (``point``, ``bar``, ``interval``) so that
tests can count them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 44
_ids = itertools.count(1)

INVITED_COLOUR = "#1f6f8b"
HELD_OUT_COLOUR = "#c0642f"
REVENUE_COLOUR = "#2e7d32"
COST_COLOUR = "#b23b3b"


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    values: Sequence[float | Decimal | None]


@dataclass(frozen=True)
class IntervalRow:
    label: str
    point: float | None
    low: float | None
    high: float | None


def percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def points(value: float) -> str:
    return f"{value * 100:+.0f} pp"


def _open(title: str, desc: str, height: int = HEIGHT) -> list[str]:
    n = next(_ids)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-labelledby="chart-{n}-title chart-{n}-desc" '
        f'class="chart" font-family="sans-serif" font-size="11">',
        f'<title id="chart-{n}-title">{escape(title)}</title>',
        f'<desc id="chart-{n}-desc">{escape(desc)}</desc>',
    ]


def _legend(series: Sequence[Series], y: int = 14) -> list[str]:
    out, x = [], LEFT
    for s in series:
        out.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{s.colour}"/>')
        out.append(f'<text x="{x + 14}" y="{y}">{escape(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    return out


def _x_labels(labels: Sequence[str], x_of: Callable[[int], float], bottom: float) -> list[str]:
    step = max(1, len(labels) // 8)
    return [
        f'<text x="{x_of(i):.1f}" y="{bottom + 16}" text-anchor="middle">{escape(label)}</text>'
        for i, label in enumerate(labels)
        if i % step == 0
    ]


def _y_axis(top_value: float, fmt: Callable[[float], str], bottom: float) -> list[str]:
    out = []
    for k in range(5):
        value = top_value * k / 4
        y = bottom - (bottom - TOP) * k / 4
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
        )
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(value)}</text>')
    return out


def line_chart(
    *,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[float], str] = percent,
    top_value: float | None = None,
) -> str:
    """Lines over ``labels`` (e.g. days); a ``None`` value breaks the line there."""
    bottom = HEIGHT - BOTTOM
    values = [float(v) for s in series for v in s.values if v is not None]
    top = top_value or max([*values, 0.0]) or 1.0
    n = max(1, len(labels) - 1)

    def x_of(i: int) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (i / n if len(labels) > 1 else 0.5)

    def y_of(value: float) -> float:
        return bottom - (bottom - TOP) * min(value, top) / top

    out = _open(title, desc)
    out += _y_axis(top, fmt, bottom)
    out += _x_labels(labels, x_of, bottom)
    for s in series:
        run: list[str] = []
        runs: list[list[str]] = []
        for i, value in enumerate(s.values):
            if value is None:
                if run:
                    runs.append(run)
                run = []
                continue
            run.append(f"{x_of(i):.1f},{y_of(float(value)):.1f}")
        if run:
            runs.append(run)
        for r in runs:
            out.append(
                f'<polyline points="{" ".join(r)}" fill="none" stroke="{s.colour}" '
                'stroke-width="2"/>'
            )
        for i, value in enumerate(s.values):
            if value is None:
                continue
            out.append(
                f'<circle class="point" cx="{x_of(i):.1f}" cy="{y_of(float(value)):.1f}" r="3" '
                f'fill="{s.colour}"><title>{escape(s.name)}, {escape(labels[i])}: '
                f"{fmt(float(value))}</title></circle>"
            )
    out += _legend(series)
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(
    *,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
) -> str:
    """Grouped bars, one group per label."""
    bottom = HEIGHT - BOTTOM
    values = [float(v) for s in series for v in s.values if v is not None]
    top = max([*values, 0.0]) or 1.0
    group = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    bar = max(1.0, group * 0.8 / max(1, len(series)))

    def x_of(i: int) -> float:
        return LEFT + group * (i + 0.5)

    out = _open(title, desc)
    out += _y_axis(top, fmt, bottom)
    out += _x_labels(labels, x_of, bottom)
    for k, s in enumerate(series):
        for i, value in enumerate(s.values):
            if value is None:
                continue
            height = (bottom - TOP) * float(value) / top
            x = LEFT + group * i + group * 0.1 + bar * k
            out.append(
                f'<rect class="bar" x="{x:.1f}" y="{bottom - height:.1f}" width="{bar:.1f}" '
                f'height="{height:.1f}" fill="{s.colour}"><title>{escape(s.name)}, '
                f"{escape(labels[i])}: {fmt(float(value))}</title></rect>"
            )
    out += _legend(series)
    out.append("</svg>")
    return "\n".join(out)


def interval_chart(*, title: str, desc: str, rows: Sequence[IntervalRow]) -> str:
    """Each row's point estimate with its interval as an error bar, against a zero line
    (a forest plot). Rows without an interval are listed, with "not enough data"."""
    row_height = 30
    height = TOP + BOTTOM + row_height * max(1, len(rows))
    label_width = 170
    left, right = LEFT + label_width, WIDTH - RIGHT
    extent = max([abs(v) for r in rows for v in (r.low, r.high, r.point) if v is not None] + [0.05])
    extent = min(1.0, extent * 1.1)

    def x_of(value: float) -> float:
        return left + (right - left) * (value + extent) / (2 * extent)

    bottom = height - BOTTOM
    out = _open(title, desc, height)
    for k in range(-2, 3):
        value = extent * k / 2
        x = x_of(value)
        colour = "#888" if k == 0 else "#ddd"
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{bottom}" stroke="{colour}"/>')
        out.append(
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{points(value)}</text>'
        )
    for i, row in enumerate(rows):
        y = TOP + row_height * (i + 0.5)
        out.append(f'<text x="{LEFT}" y="{y + 4:.1f}">{escape(row.label)}</text>')
        if row.point is None or row.low is None or row.high is None:
            out.append(f'<text x="{left}" y="{y + 4:.1f}" fill="#666">not enough data</text>')
            continue
        out.append(
            f'<g class="interval"><title>{escape(row.label)}: {points(row.point)}, 95 % CI '
            f"{points(row.low)} to {points(row.high)}</title>"
            f'<line x1="{x_of(row.low):.1f}" x2="{x_of(row.high):.1f}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="{INVITED_COLOUR}" stroke-width="2"/>'
            f'<line x1="{x_of(row.low):.1f}" x2="{x_of(row.low):.1f}" y1="{y - 6:.1f}" '
            f'y2="{y + 6:.1f}" stroke="{INVITED_COLOUR}" stroke-width="2"/>'
            f'<line x1="{x_of(row.high):.1f}" x2="{x_of(row.high):.1f}" y1="{y - 6:.1f}" '
            f'y2="{y + 6:.1f}" stroke="{INVITED_COLOUR}" stroke-width="2"/>'
            f'<circle class="point" cx="{x_of(row.point):.1f}" cy="{y:.1f}" r="4" '
            f'fill="{INVITED_COLOUR}"/></g>'
        )
    out.append("</svg>")
    return "\n".join(out)
