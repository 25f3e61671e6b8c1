"""The report as CSV: one row per breakdown line, with a ``section`` column naming the
breakdown (docs/ANALYTICS.md, "CSV export"). Values are as in the JSON API."""

from __future__ import annotations

import csv
import io
from typing import Any

from cartassist.domain.analytics_report import AnalyticsReport, report_as_dict

# Sections whose value is a list of lines; the others are one object (one row).
LIST_SECTIONS = [
    "money",
    "by_stall_reason",
    "by_site",
    "by_policy",
    "by_remedy",
    "by_agent",
    "suppression_reasons",
    "follow_ups.by_reason",
    "follow_ups.by_channel",
    "daily",
    "daily_money",
]
OBJECT_SECTIONS = ["totals", "conversion", "funnel", "follow_ups.rate", "response_times"]


def _flat(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            out.update(_flat(item, f"{prefix}{key}."))
        elif not isinstance(item, list):
            out[prefix + key] = item
    return out


def _get(data: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        data = data[part]
    return data


def report_rows(report: AnalyticsReport) -> list[dict[str, Any]]:
    """Every line of the report as a flat dict with its ``section``."""
    data = report_as_dict(report)
    rows: list[dict[str, Any]] = []
    for section in OBJECT_SECTIONS:
        rows.append({"section": section, **_flat(_get(data, section))})
    follow_ups = data["follow_ups"]
    rows.append(
        {
            "section": "follow_ups.contacts",
            "invited": follow_ups["invited_contacts"],
            "held_out": follow_ups["held_out_contacts"],
        }
    )
    if follow_ups.get("deflection") is not None:
        rows.append({"section": "follow_ups.deflection", **follow_ups["deflection"]})
    for section in LIST_SECTIONS:
        rows += [{"section": section, **_flat(line)} for line in _get(data, section)]
    return rows


def report_csv(report: AnalyticsReport) -> str:
    rows = report_rows(report)
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()
