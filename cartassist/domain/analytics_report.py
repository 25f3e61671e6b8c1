"""The analytics report: what ``analytics_compute`` returns (docs/ANALYTICS.md).

Plain frozen dataclasses and their JSON form; the computation, which needs the database,
is ``cartassist/outcomes/services/analytics.py``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from cartassist.domain.planner import Plan


@dataclass(frozen=True)
class Comparison:
    """A rate among invited carts against the same rate among held-out carts.

    ``uplift`` is the absolute difference of the rates (0.121 = +12.1 percentage points)
    with its 95 % interval (Newcombe's hybrid score method); ``relative_uplift`` is the
    difference as a share of the held-out rate. ``None`` where undefined.
    """

    invited: int
    invited_successes: int
    invited_rate: float | None
    held_out: int
    held_out_successes: int
    held_out_rate: float | None
    uplift: float | None
    uplift_low: float | None
    uplift_high: float | None
    relative_uplift: float | None
    enough_data: bool
    # The always-valid 95 % confidence sequence of the uplift (docs/ANALYTICS.md,
    # "Always-valid interval"): valid however often it is looked at. The headline uses it.
    sequence_low: float | None = None
    sequence_high: float | None = None
    sequence_excludes_zero: bool = False
    # While it includes 0: how many more stalled carts, at the rates, arm shares and
    # suppressed share seen so far, until it would not (None: no uplift seen, no estimate).
    stalled_carts_to_exclude_zero: int | None = None


@dataclass(frozen=True)
class Cuped:
    """The conversion uplift adjusted for what was known before outreach (CUPED; docs/
    ANALYTICS.md, "Variance reduction (CUPED)"): its fixed-horizon 95 % interval and its
    always-valid sequence, and the share of the plain estimate's variance removed."""

    uplift: float | None
    uplift_low: float | None
    uplift_high: float | None
    sequence_low: float | None
    sequence_high: float | None
    variance_reduction: float | None
    covariates: list[str]


@dataclass(frozen=True)
class Totals:
    interventions: int
    stalled_carts: int
    invited: int
    held_out: int
    suppressed: int


@dataclass(frozen=True)
class MoneyLine:
    """Money in one currency (amounts in different currencies are never added)."""

    currency: str
    invited_interventions: int
    held_out_interventions: int
    recovered_orders: int
    invited_revenue: Decimal
    held_out_revenue: Decimal
    granted_amount: Decimal
    remedy_cost: Decimal
    net_revenue: Decimal
    remedy_cost_per_recovered_order: Decimal | None
    incremental_revenue: Decimal | None


@dataclass(frozen=True)
class ComparisonLine:
    key: str
    label: str
    conversion: Comparison


@dataclass(frozen=True)
class InvitedLine:
    """Invited carts only, for one policy / remedy / agent in one currency."""

    key: str
    label: str
    currency: str
    interventions: int
    chats_accepted: int
    converted: int
    conversion_rate: float | None
    revenue: Decimal
    remedy_cost: Decimal
    net_revenue: Decimal


@dataclass(frozen=True)
class Funnel:
    invited: int
    pending: int
    shown: int
    no_answer_yet: int
    accepted: int
    dismissed: int
    ignored: int
    undelivered: int
    # Interventions whose shopper left the chat and was emailed (at least one email
    # sent; docs/ANALYTICS.md, "Invitations").
    emailed: int = 0


@dataclass(frozen=True)
class CountLine:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class FollowUpLine:
    key: str
    label: str
    invited: int
    held_out: int
    deflected: int = 0  # resolution self_served (the outreach lookup answered)
    handed_to_agent: int = 0  # resolution agent


@dataclass(frozen=True)
class FollowUps:
    rate: Comparison
    invited_contacts: int
    held_out_contacts: int
    by_reason: list[FollowUpLine]
    by_channel: list[FollowUpLine]
    deflection: Deflection | None = None


@dataclass(frozen=True)
class Deflection:
    """Follow-up contacts by how they ended, as the helpdesk reported it (docs/
    ANALYTICS.md, "Deflected follow-ups"): ``share`` is deflected / (deflected + handed to
    an agent), None while no resolution was reported."""

    deflected: int
    handed_to_agent: int
    not_reported: int
    share: float | None


@dataclass(frozen=True)
class ResponseTimes:
    chats: int
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None
    method: str


@dataclass(frozen=True)
class Day:
    day: date
    invited: int
    invited_converted: int
    invited_rate: float | None
    held_out: int
    held_out_converted: int
    held_out_rate: float | None


@dataclass(frozen=True)
class DayMoney:
    day: date
    currency: str
    revenue: Decimal
    remedy_cost: Decimal


@dataclass(frozen=True)
class Filters:
    date_from: date
    date_to: date
    site_ids: list[int] | None
    timezone: str


@dataclass(frozen=True)
class AnalyticsReport:
    filters: Filters
    totals: Totals
    conversion: Comparison
    money: list[MoneyLine]
    by_stall_reason: list[ComparisonLine]
    by_site: list[ComparisonLine]
    by_policy: list[InvitedLine]
    by_remedy: list[InvitedLine]
    by_agent: list[InvitedLine]
    funnel: Funnel
    suppression_reasons: list[CountLine]
    follow_ups: FollowUps
    response_times: ResponseTimes
    daily: list[Day]
    daily_money: list[DayMoney]
    cuped: Cuped | None = None
    plan: Plan | None = None


def report_as_dict(report: AnalyticsReport) -> dict[str, Any]:
    """The report as JSON-ready data: Decimals as strings (exact), dates as ISO 8601."""
    data: dict[str, Any] = _jsonable(dataclasses.asdict(report))
    return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
