"""The helpdesk pacing figures of the analytics (docs/ANALYTICS.md, "Helpdesk pacing"):
pure dataclasses, filled by cartassist/outcomes/services/pacing_analytics.py."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HelpdeskHour:
    """One clock hour of the site (``start``: ISO 8601 with the site's offset)."""

    start: str
    expected: float  # follow-up contacts the invitations were expected to cause
    actual: int  # helpdesk contacts credited to an invitation
    capacity: int  # the grid's contacts per hour


@dataclass(frozen=True)
class FollowUpRateLine:
    """The measured follow-up rate of one stall reason, raw and as pacing uses it."""

    stall_reason: str
    label: str
    invitations: int  # invitations whose delay window has closed
    followed_up: int  # … followed by a helpdesk contact within it
    rate: float  # the shrunk rate pacing uses


@dataclass(frozen=True)
class HelpdeskPacing:
    """Pacing for one site over the report's period (hours: its last days)."""

    site_id: int
    pacing_enabled: bool
    hours_from: str
    hours: list[HelpdeskHour]
    expected_total: float
    actual_total: int
    hours_over_capacity_expected: int  # open hours whose expected contacts exceed capacity
    hours_over_capacity_actual: int
    invitations_waited: int  # invited after waiting for the helpdesk
    median_wait_seconds: float | None  # … their median wait
    suppressed_helpdesk_busy: int  # gave up waiting: suppressed as "helpdesk busy"
    waiting_then_other: int  # waited, then held back for another reason
    overall_rate: float
    rates: list[FollowUpRateLine]
    curve_first_hour: float  # share of follow-ups expected in the first hour after outreach
    curve_first_day: float  # … within the first 24 hours (of the delay window)


def pacing_as_dict(pacing: HelpdeskPacing) -> dict[str, Any]:
    """JSON-ready: floats rounded to 4 places."""

    def rounded(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, 4)
        if isinstance(value, list):
            return [rounded(v) for v in value]
        if isinstance(value, dict):
            return {k: rounded(v) for k, v in value.items()}
        return value

    return rounded(dataclasses.asdict(pacing))  # type: ignore[no-any-return]
