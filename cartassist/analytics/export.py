"""The report as a tidy CSV: one row per figure, ``section, metric, dimension, value,
unit`` (docs/ANALYTICS.md, "CSV export").

Values are rounded as the page shows them: rates and shares in per cent and uplifts in
percentage points with one decimal, seconds with one decimal, money in its currency's
minor units (the currency in ``unit``), booleans as ``true``/``false``, nothing as an
empty cell. ``dimension`` names the breakdown line (a stall reason, a site, a policy and
its currency, a day), empty for a whole-report figure.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from cartassist.domain.analytics_report import AnalyticsReport
from policies.engine.money import CURRENCY_EXPONENTS, quantize

COLUMNS = ["section", "metric", "dimension", "value", "unit"]

# Fields that name a line rather than measure it.
DIMENSION_FIELDS = {"key", "label", "currency", "day"}
PERCENT_FIELDS = {
    "invited_rate",
    "held_out_rate",
    "relative_uplift",
    "conversion_rate",
    "share",
    "variance_reduction",
    "baseline_rate",
    "holdout_share",
    "randomised_share",
    "power",
}
POINTS_FIELDS = {"uplift", "uplift_low", "uplift_high", "sequence_low", "sequence_high"}
SECONDS_FIELDS = {"mean_seconds", "median_seconds", "p90_seconds"}

Row = dict[str, str]


def _one_decimal(value: float) -> str:
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def format_value(field: str, value: Any, currency: str = "") -> tuple[str, str]:
    """``(value, unit)`` of one figure as the CSV writes it."""
    if value is None:
        return "", _unit_of(field)
    if isinstance(value, bool):
        return ("true" if value else "false"), ""
    if field in PERCENT_FIELDS:
        return _one_decimal(value * 100), "%"
    if field in POINTS_FIELDS:
        return _one_decimal(value * 100), "pp"
    if field in SECONDS_FIELDS:
        return _one_decimal(value), "s"
    if isinstance(value, Decimal):
        if currency in CURRENCY_EXPONENTS:
            return str(quantize(value, currency)), currency
        return f"{value.normalize():f}", currency
    if isinstance(value, float):  # pragma: no cover - every float field is named above
        return _one_decimal(value), ""
    return str(value), ""


def _unit_of(field: str) -> str:
    if field in PERCENT_FIELDS:
        return "%"
    if field in POINTS_FIELDS:
        return "pp"
    return "s" if field in SECONDS_FIELDS else ""


def _dimension(line: Any) -> str:
    """The line's day, label and currency, joined: "2025-03-10 / EUR", "Rescue / EUR"."""
    parts = []
    if getattr(line, "day", None) is not None:
        parts.append(line.day.isoformat())
    if getattr(line, "label", None):
        parts.append(str(line.label))
    if getattr(line, "currency", None):
        parts.append(str(line.currency))
    return " / ".join(parts)


def _figures(section: str, obj: Any, dimension: str = "") -> Iterator[Row]:
    """A row per measured field of ``obj`` (a report dataclass); nested comparisons (a
    stall reason's conversion) become ``conversion.<field>`` metrics."""
    currency = getattr(obj, "currency", "")
    for field in dataclasses.fields(obj):
        if field.name in DIMENSION_FIELDS:
            continue
        value = getattr(obj, field.name)
        if dataclasses.is_dataclass(value):
            for row in _figures(section, value, dimension):
                yield {**row, "metric": f"{field.name}.{row['metric']}"}
            continue
        if isinstance(value, list):
            if value and all(isinstance(item, str) for item in value):  # names (covariates)
                yield {"section": section, "metric": field.name, "dimension": dimension,
                       "value": " ".join(value), "unit": ""}  # fmt: skip
            continue  # a breakdown of its own section
        text, unit = format_value(field.name, value, currency)
        if isinstance(value, Decimal) or (value is None and _is_money(obj, field.name)):
            unit = currency
        yield {"section": section, "metric": field.name, "dimension": dimension,
               "value": text, "unit": unit}  # fmt: skip


def _is_money(obj: Any, name: str) -> bool:
    hints = {f.name: f.type for f in dataclasses.fields(obj)}
    return "Decimal" in str(hints.get(name, ""))


def _lines(section: str, lines: list[Any]) -> Iterator[Row]:
    for line in lines:
        yield from _figures(section, line, _dimension(line))


def report_rows(report: AnalyticsReport) -> list[Row]:
    """Every figure of the report, in the page's order."""
    follow_ups = report.follow_ups
    rows: list[Row] = [
        *_figures("totals", report.totals),
        *_figures("conversion", report.conversion),
        *_lines("by_stall_reason", report.by_stall_reason),
        *_lines("daily", report.daily),
        *_lines("money", report.money),
        *_lines("daily_money", report.daily_money),
        *_lines("by_policy", report.by_policy),
        *_lines("by_remedy", report.by_remedy),
        *_lines("by_agent", report.by_agent),
        *_lines("by_site", report.by_site),
        *_figures("funnel", report.funnel),
        *_lines("suppression_reasons", report.suppression_reasons),
        *_figures("response_times", report.response_times),
        *_figures("follow_ups.rate", follow_ups.rate),
    ]
    for metric, value in (
        ("invited", follow_ups.invited_contacts),
        ("held_out", follow_ups.held_out_contacts),
    ):
        rows.append({"section": "follow_ups.contacts", "metric": metric, "dimension": "",
                     "value": str(value), "unit": ""})  # fmt: skip
    if follow_ups.deflection is not None:
        rows += _figures("follow_ups.deflection", follow_ups.deflection)
    rows += _lines("follow_ups.by_reason", follow_ups.by_reason)
    rows += _lines("follow_ups.by_channel", follow_ups.by_channel)
    if report.cuped is not None:
        rows += _figures("cuped", report.cuped)
    if report.plan is not None:
        rows += _figures("plan", report.plan)
        for line in report.plan.lines:
            rows += _figures("plan.lines", line, _share_label(line.holdout_share))
    return rows


def _share_label(share: float) -> str:
    """A plan line's holdout share as its dimension: "holdout 20.0 %"."""
    return f"holdout {_one_decimal(share * 100)} %"


def report_csv(report: AnalyticsReport) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(report_rows(report))
    return buffer.getvalue()
