"""Deflected follow-up contacts: contacts after outreach that the outreach lookup
resolved without an agent (docs/ANALYTICS.md, "Deflected follow-ups"). Pure Python over
the grouped rows of the analytics query (``{"resolution": …, "n": count}``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cartassist.domain.analytics_report import Deflection

SELF_SERVED = "self_served"
AGENT = "agent"


def deflection_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """``{"deflected": …, "handed_to_agent": …}`` over grouped rows."""
    rows = list(rows)
    return {
        "deflected": sum(r["n"] for r in rows if r["resolution"] == SELF_SERVED),
        "handed_to_agent": sum(r["n"] for r in rows if r["resolution"] == AGENT),
    }


def deflection(rows: Iterable[Mapping[str, Any]]) -> Deflection:
    """The contacts by resolution, and the deflected share of those with one reported."""
    rows = list(rows)
    counts = deflection_counts(rows)
    reported = counts["deflected"] + counts["handed_to_agent"]
    return Deflection(
        deflected=counts["deflected"],
        handed_to_agent=counts["handed_to_agent"],
        not_reported=sum(r["n"] for r in rows) - reported,
        share=counts["deflected"] / reported if reported else None,
    )
