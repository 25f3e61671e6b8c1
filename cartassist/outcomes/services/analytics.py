"""The merchandisers' analytics: did proactive chat help, at what cost, and did it cause
follow-up contacts? Every figure is defined in docs/ANALYTICS.md.

Everything is computed by the database with GROUP BY and conditional aggregates over
``Intervention`` (and ``FollowUpContact``); Python only sees the grouped rows (a few
dozen), never one row per intervention, so the cost stays flat in Python and linear in
the database (docs/PERFORMANCE.md, "Analytics").
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection
from django.db.models import Aggregate, Avg, Count, F, FloatField, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from agents.models import AgentProfile, ShopperEmailStatus
from cartassist.carts.models import (
    AnalyticsContact,
    AnalyticsGroup,
    AnalyticsMoment,
    AnalyticsRepeat,
    AnalyticsResponse,
    Decision,
    FollowUpChannel,
    FollowUpContact,
    FollowUpReason,
    Intervention,
    InvitationResult,
    Site,
    StallReason,
    SuppressionReason,
)
from cartassist.domain.analytics_report import (
    AnalyticsReport,
    Comparison,
    ComparisonLine,
    CountLine,
    Cuped,
    Day,
    DayMoney,
    Filters,
    FollowUpLine,
    FollowUps,
    Funnel,
    InvitedLine,
    MoneyLine,
    ResponseTimes,
    Totals,
)
from cartassist.domain.cuped import Cell, cuped
from cartassist.domain.deflection import deflection, deflection_counts
from cartassist.domain.planner import SHARES, Plan, plan
from cartassist.domain.sequential import difference_sequence
from cartassist.domain.uplift import compare
from cartassist.outcomes.services.analytics_rollups import (
    MOMENT_KEYS,
    RESULT_COLUMNS,
    analytics_rollups_refresh,
    moments,
    zone_key,
)
from policies.engine.money import CURRENCY_EXPONENTS
from policies.models import Policy, RemedyKindChoices

# Below this many carts in either arm, the page says the sample is too small to tell.
MIN_ARM_SIZE = 30
# The uplift the sample-size planner plans for unless asked another (5 points).
DEFAULT_PLAN_UPLIFT = 0.05

ZERO = Decimal(0)


# --- the computation ----------------------------------------------------------------------


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)``."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: str, *, fraction: float, **extra: Any) -> None:
        # A float we chose, formatted into the SQL: never user input.
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def analytics_compute(
    *,
    site_ids: list[int] | None,
    date_from: date,
    date_to: date,
    tz: tzinfo,
    rollups: bool = True,
    plan_uplift: float = DEFAULT_PLAN_UPLIFT,
    plan_holdout_share: float | None = None,
) -> AnalyticsReport:
    """The analytics of the interventions decided from ``date_from`` to ``date_to``
    (inclusive, calendar days in ``tz``) on ``site_ids`` (``None``: every site).

    The grouped rows come from the daily rollups (``rollups=True``, the default: a few
    queries over at most one row per day and combination of dimensions, after the days
    changed since they were computed are recomputed; ``analytics_rollups.py``), or from
    the raw rows (``rollups=False``: the reference the rollups are tested against):

    1. the main groups by site, stall reason, decision, suppression reason and currency
       give the totals, conversions, money, funnel, suppression reasons and follow-up
       rates; the comparisons are assembled from them;
    2. the distinct stalled carts;
    3. the invited groups by policy, remedy, agent and currency, and two lookups of the
       policies' and agents' names;
    4. the follow-up contacts by arm, reason, channel and resolution;
    5. time to first response: from the rollups, the chats per whole second, then each
       percentile's one or two values picked among its second's chats
       (``_response_times_by_seconds``); from the rows, ``_response_times``;
    6. the groups by day (in ``tz``), decision and currency for the series;
    7. the randomised interventions by stall reason, stage and returning shopper with
       the sums CUPED needs (``AnalyticsMoment``).

    The sample-size planner plans for ``plan_uplift`` (absolute: 0.05 is 5 points) at
    the site's holdout share (several sites: the share held out so far), at the usual
    shares and at ``plan_holdout_share`` when given.
    """
    start = datetime.combine(date_from, time.min, tzinfo=tz)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=tz)
    interventions = Intervention.objects.filter(decided_at__gte=start, decided_at__lt=end)
    if site_ids is not None:
        interventions = interventions.filter(site_id__in=site_ids)
    # No ORDER BY: the model's default ordering would end up in the GROUP BY.
    interventions = interventions.order_by()
    if rollups:
        rows = _rows_from_rollups(site_ids=site_ids, date_from=date_from, date_to=date_to, tz=tz)
    else:
        rows = _rows_from_interventions(
            interventions, start=start, end=end, site_ids=site_ids, tz=tz
        )
    by_policy, by_remedy, by_agent = _invited_breakdowns(rows.invited_groups)
    chats = interventions.filter(decision=Decision.INVITED, first_response_seconds__isnull=False)
    return AnalyticsReport(
        filters=Filters(
            date_from=date_from,
            date_to=date_to,
            site_ids=sorted(site_ids) if site_ids is not None else None,
            timezone=str(tz),
        ),
        totals=_totals(rows.groups, rows.stalled_carts),
        conversion=_comparison(rows.groups, "converted_n"),
        money=_money(rows.groups),
        by_stall_reason=_by_stall_reason(rows.groups),
        by_site=_by_site(rows.groups),
        by_policy=by_policy,
        by_remedy=by_remedy,
        by_agent=by_agent,
        funnel=replace(_funnel(rows.groups), emailed=_emailed(interventions)),
        suppression_reasons=_suppression_reasons(rows.groups),
        follow_ups=_follow_ups(rows.groups, rows.contacts),
        response_times=(
            _response_times(chats)
            if rows.response_seconds is None
            else _response_times_by_seconds(chats, rows.response_seconds)
        ),
        daily=_daily(rows.day_groups, date_from, date_to),
        daily_money=_daily_money(rows.day_groups),
        cuped=_cuped(rows.moments),
        plan=_plan(
            rows.groups,
            site_ids=site_ids,
            uplift=plan_uplift,
            other_share=plan_holdout_share,
        ),
    )


# A row of a grouped ``values().annotate()`` query.
Group = Mapping[str, Any]


@dataclass(frozen=True)
class _Rows:
    """The grouped rows a report is assembled from (the same from both sources)."""

    groups: Sequence[Group]
    stalled_carts: int
    invited_groups: Sequence[Group]
    contacts: Sequence[Group]
    day_groups: Sequence[Group]
    # The chats by whole second of their first response, ascending: (second, chats,
    # sum of their seconds); rollups only.
    response_seconds: Sequence[tuple[int, int, float]] | None = None
    # The randomised interventions by MOMENT_KEYS with CUPED's sums.
    moments: Sequence[Group] = ()


def _rows_from_interventions(
    interventions: QuerySet[Intervention],
    *,
    start: datetime,
    end: datetime,
    site_ids: list[int] | None,
    tz: tzinfo,
) -> _Rows:
    """The grouped rows computed from the raw interventions and contacts."""
    groups = list(
        interventions.values(
            "site_id", "stall_reason", "decision", "suppression_reason", "currency"
        ).annotate(
            n=Count("id"),
            converted_n=Count("id", filter=Q(converted=True)),
            followed_up_n=Count("id", filter=Q(follow_ups__gt=0)),
            follow_up_contact_n=Sum("follow_ups"),
            revenue_sum=Sum("revenue"),
            remedy_cost_sum=Sum("remedy_cost"),
            granted_sum=Sum("granted_amount"),
            net_sum=Sum("net_revenue"),
            **{
                f"result_{result}": Count("id", filter=Q(invitation_result=result))
                for result in InvitationResult.values
            },
        )
    )
    stalled_carts = interventions.aggregate(n=Count("cart_id", distinct=True))["n"]
    invited_groups = list(
        interventions.filter(decision=Decision.INVITED)
        .values("policy_id", "remedy_kind", "agent_id", "currency")
        .annotate(
            n=Count("id"),
            accepted_n=Count("id", filter=Q(invitation_result=InvitationResult.ACCEPTED)),
            converted_n=Count("id", filter=Q(converted=True)),
            revenue_sum=Sum("revenue"),
            remedy_cost_sum=Sum("remedy_cost"),
            net_sum=Sum("net_revenue"),
        )
    )
    contacts = FollowUpContact.objects.filter(
        intervention__decided_at__gte=start,
        intervention__decided_at__lt=end,
        intervention__decision__in=[Decision.INVITED, Decision.HELD_OUT],
    )
    if site_ids is not None:
        contacts = contacts.filter(intervention__site_id__in=site_ids)
    contact_rows: list[Group] = list(
        contacts.order_by()
        .values("reason", "channel", "resolution", decision=F("intervention__decision"))
        .annotate(n=Count("id"))
    )
    day_groups = list(
        interventions.filter(decision__in=[Decision.INVITED, Decision.HELD_OUT])
        .annotate(day=TruncDate("decided_at", tzinfo=tz))
        .values("day", "decision", "currency")
        .annotate(
            n=Count("id"),
            converted_n=Count("id", filter=Q(converted=True)),
            revenue_sum=Sum("revenue"),
            remedy_cost_sum=Sum("remedy_cost"),
        )
    )
    return _Rows(
        groups,
        stalled_carts,
        invited_groups,
        contact_rows,
        day_groups,
        moments=list(moments(interventions)),
    )


def _sums(rows: QuerySet[Any], *keys: str, **columns: str) -> list[Group]:
    """``rows`` grouped by ``keys`` with ``name=Sum(column)`` for each of ``columns``
    (aliased while in SQL: an annotation may not bear a field's name)."""
    aliases = {f"sum_{name}": Sum(column) for name, column in columns.items()}
    return [
        {
            **{key: row[key] for key in keys},
            **{name: row[f"sum_{name}"] for name in columns},
        }
        for row in rows.values(*keys).annotate(**aliases)
    ]


def _rows_from_rollups(
    *, site_ids: list[int] | None, date_from: date, date_to: date, tz: tzinfo
) -> _Rows:
    """The same grouped rows, summed from the daily rollups once they are current."""
    sites = site_ids if site_ids is not None else list(Site.objects.values_list("pk", flat=True))
    analytics_rollups_refresh(site_ids=sites, tz=tz, date_from=date_from, date_to=date_to)
    where: dict[str, Any] = {"zone": zone_key(tz), "day__gte": date_from, "day__lte": date_to}
    if site_ids is not None:
        where["site_id__in"] = site_ids
    rollups = AnalyticsGroup.objects.filter(**where).order_by()
    groups = _sums(
        rollups,
        "site_id",
        "stall_reason",
        "decision",
        "suppression_reason",
        "currency",
        n="n",
        converted_n="converted_n",
        followed_up_n="followed_up_n",
        follow_up_contact_n="follow_up_contact_n",
        revenue_sum="revenue_sum",
        remedy_cost_sum="remedy_cost_sum",
        granted_sum="granted_sum",
        net_sum="net_sum",
        **{f"result_{value}": column for value, column in RESULT_COLUMNS.items()},
    )
    # A cart counts once: the interventions less those whose cart had an earlier one
    # in the range.
    repeats = AnalyticsRepeat.objects.filter(**where, previous_day__gte=date_from).aggregate(
        n=Sum("n")
    )["n"]
    stalled_carts = _count(groups) - (repeats or 0)
    invited_groups = _sums(
        rollups.filter(decision=Decision.INVITED),
        "policy_id",
        "remedy_kind",
        "agent_id",
        "currency",
        n="n",
        accepted_n=RESULT_COLUMNS[InvitationResult.ACCEPTED],
        converted_n="converted_n",
        revenue_sum="revenue_sum",
        remedy_cost_sum="remedy_cost_sum",
        net_sum="net_sum",
    )
    contacts = _sums(
        AnalyticsContact.objects.filter(
            **where, decision__in=[Decision.INVITED, Decision.HELD_OUT]
        ).order_by(),
        "decision",
        "reason",
        "channel",
        "resolution",
        n="n",
    )
    day_groups = _sums(
        rollups.filter(decision__in=[Decision.INVITED, Decision.HELD_OUT]),
        "day",
        "decision",
        "currency",
        n="n",
        converted_n="converted_n",
        revenue_sum="revenue_sum",
        remedy_cost_sum="remedy_cost_sum",
    )
    response_seconds = sorted(
        (row["second"], row["n"], row["total"])
        for row in _sums(
            AnalyticsResponse.objects.filter(**where).order_by(), "second", n="n", total="total"
        )
    )
    moment_rows = _sums(
        AnalyticsMoment.objects.filter(**where).order_by(),
        *MOMENT_KEYS,
        n="n",
        converted_n="converted_n",
        value_sum="value_sum",
        value_sq_sum="value_sq_sum",
        value_converted_sum="value_converted_sum",
    )
    return _Rows(
        groups,
        stalled_carts,
        invited_groups,
        contacts,
        day_groups,
        response_seconds,
        moments=moment_rows,
    )


def _count(groups: Iterable[Group], field: str = "n", **where: object) -> int:
    return sum(
        g[field] or 0 for g in groups if all(g[key] == value for key, value in where.items())
    )


def _amount(groups: Iterable[Group], field: str, currency: str, **where: object) -> Decimal:
    total = sum(
        (
            g[field] or ZERO
            for g in groups
            if g["currency"] == currency and all(g[k] == v for k, v in where.items())
        ),
        ZERO,
    )
    return _round(total, currency)


def _round(amount: Decimal, currency: str) -> Decimal:
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    return amount.quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_UP)


def _comparison(groups: Sequence[Group], successes: str) -> Comparison:
    """Invited against held out, for the rate ``successes / n`` over ``groups``."""
    invited = _count(groups, decision=Decision.INVITED)
    held_out = _count(groups, decision=Decision.HELD_OUT)
    invited_successes = _count(groups, successes, decision=Decision.INVITED)
    held_out_successes = _count(groups, successes, decision=Decision.HELD_OUT)
    result = compare(invited_successes, invited, held_out_successes, held_out)
    sequence = difference_sequence(invited_successes, invited, held_out_successes, held_out)
    # Carts still to come join an arm only when not suppressed.
    more = sequence.carts_to_exclude_zero
    if more is not None:
        more = math.ceil(more * _count(groups) / (invited + held_out))
    return Comparison(
        invited=invited,
        invited_successes=invited_successes,
        invited_rate=result.rate_a,
        held_out=held_out,
        held_out_successes=held_out_successes,
        held_out_rate=result.rate_b,
        uplift=result.difference,
        uplift_low=result.interval.low if result.interval else None,
        uplift_high=result.interval.high if result.interval else None,
        relative_uplift=result.relative,
        enough_data=min(invited, held_out) >= MIN_ARM_SIZE and result.interval is not None,
        sequence_low=sequence.interval.low if sequence.interval else None,
        sequence_high=sequence.interval.high if sequence.interval else None,
        sequence_excludes_zero=sequence.excludes_zero,
        stalled_carts_to_exclude_zero=more,
    )


def _cuped(rows: Sequence[Group]) -> Cuped:
    """CUPED on the conversion uplift, from the moment sums."""
    result = cuped(
        Cell(
            treated=row["decision"] == Decision.INVITED,
            stage=row["stage"],
            stall_reason=row["stall_reason"],
            returning=bool(row["returning_shopper"]),
            n=row["n"],
            converted=row["converted_n"],
            value_sum=float(row["value_sum"] or 0),
            value_sq_sum=float(row["value_sq_sum"] or 0),
            value_converted_sum=float(row["value_converted_sum"] or 0),
        )
        for row in rows
    )
    interval, sequence = result.interval, result.sequence.interval
    return Cuped(
        uplift=result.estimate,
        uplift_low=interval.low if interval else None,
        uplift_high=interval.high if interval else None,
        sequence_low=sequence.low if sequence else None,
        sequence_high=sequence.high if sequence else None,
        variance_reduction=result.variance_reduction,
        covariates=result.covariates,
    )


def _plan(
    groups: Sequence[Group], *, site_ids: list[int] | None, uplift: float, other_share: float | None
) -> Plan | None:
    """The sample-size planner at the held-out conversion so far; ``None`` before any
    held-out cart."""
    invited = _count(groups, decision=Decision.INVITED)
    held_out = _count(groups, decision=Decision.HELD_OUT)
    if not held_out:
        return None
    share = held_out / (invited + held_out)
    if site_ids is not None and len(site_ids) == 1:
        configured = Site.objects.filter(pk=site_ids[0]).values_list("holdout_share", flat=True)
        share = float(configured.first() or share)
    return plan(
        uplift=uplift,
        baseline_rate=_count(groups, "converted_n", decision=Decision.HELD_OUT) / held_out,
        holdout_share=share,
        randomised_so_far=invited + held_out,
        randomised_share=(invited + held_out) / _count(groups),
        shares=SHARES if other_share is None else (*SHARES, other_share),
    )


def _totals(groups: Sequence[Group], stalled_carts: int) -> Totals:
    return Totals(
        interventions=_count(groups),
        stalled_carts=stalled_carts,
        invited=_count(groups, decision=Decision.INVITED),
        held_out=_count(groups, decision=Decision.HELD_OUT),
        suppressed=_count(groups, decision=Decision.SUPPRESSED),
    )


def _money(groups: Sequence[Group]) -> list[MoneyLine]:
    lines = []
    for currency in sorted({g["currency"] for g in groups}):
        invited = _count(groups, currency=currency, decision=Decision.INVITED)
        held_out = _count(groups, currency=currency, decision=Decision.HELD_OUT)
        recovered = _count(groups, "converted_n", currency=currency, decision=Decision.INVITED)
        invited_revenue = _amount(groups, "revenue_sum", currency, decision=Decision.INVITED)
        held_out_revenue = _amount(groups, "revenue_sum", currency, decision=Decision.HELD_OUT)
        remedy_cost = _amount(groups, "remedy_cost_sum", currency, decision=Decision.INVITED)
        incremental = None
        if invited and held_out:
            per_cart_gain = invited_revenue / invited - held_out_revenue / held_out
            incremental = _round(per_cart_gain * invited, currency)
        lines.append(
            MoneyLine(
                currency=currency,
                invited_interventions=invited,
                held_out_interventions=held_out,
                recovered_orders=recovered,
                invited_revenue=invited_revenue,
                held_out_revenue=held_out_revenue,
                granted_amount=_amount(groups, "granted_sum", currency, decision=Decision.INVITED),
                remedy_cost=remedy_cost,
                net_revenue=_amount(groups, "net_sum", currency, decision=Decision.INVITED),
                remedy_cost_per_recovered_order=(
                    _round(remedy_cost / recovered, currency) if recovered else None
                ),
                incremental_revenue=incremental,
            )
        )
    return lines


def _label(choices: type[Any], key: str, empty: str = "") -> str:
    if not key:
        return empty or "—"
    try:
        return str(choices(key).label)
    except ValueError:  # a value no longer among the choices: show it as stored
        return key


def _by_stall_reason(groups: Sequence[Group]) -> list[ComparisonLine]:
    keys = sorted({g["stall_reason"] for g in groups}, key=_choice_order(StallReason))
    return [
        ComparisonLine(
            key=key,
            label=_label(StallReason, key),
            conversion=_comparison([g for g in groups if g["stall_reason"] == key], "converted_n"),
        )
        for key in keys
    ]


def _choice_order(choices: type[Any]) -> Any:
    order = {value: i for i, value in enumerate(choices.values)}
    return lambda key: (order.get(key, len(order)), key)


def _by_site(groups: Sequence[Group]) -> list[ComparisonLine]:
    names = dict(
        Site.objects.filter(pk__in={g["site_id"] for g in groups}).values_list("pk", "name")
    )
    return [
        ComparisonLine(
            key=str(site_id),
            label=names.get(site_id, f"Site {site_id}"),
            conversion=_comparison([g for g in groups if g["site_id"] == site_id], "converted_n"),
        )
        for site_id in sorted(names, key=lambda pk: (names[pk], pk))
    ]


def _invited_breakdowns(
    groups: Sequence[Group],
) -> tuple[list[InvitedLine], list[InvitedLine], list[InvitedLine]]:
    """Invited interventions by policy, by remedy and by agent, each per currency.

    The groups are by all three keys and the currency (bounded by the catalogue:
    policies × remedies × agents, not by the interventions), rolled up here; the names
    come from two lookups of the ids that occur.
    """
    policy_ids = {g["policy_id"] for g in groups} - {None}
    agent_ids = {g["agent_id"] for g in groups} - {None}
    policies = dict(Policy.objects.filter(pk__in=policy_ids).values_list("pk", "name"))
    agents = dict(AgentProfile.objects.filter(pk__in=agent_ids).values_list("pk", "display_name"))
    by_policy = _roll_up(
        groups, "policy_id", lambda pk: policies.get(pk, f"Policy {pk}") if pk else "No policy"
    )
    by_remedy = _roll_up(
        groups, "remedy_kind", lambda kind: _label(RemedyKindChoices, kind, "No remedy granted")
    )
    by_agent = _roll_up(
        groups, "agent_id", lambda pk: agents.get(pk, f"Agent {pk}") if pk else "No agent"
    )
    return by_policy, by_remedy, by_agent


def _roll_up(groups: Sequence[Group], key: str, label: Any) -> list[InvitedLine]:
    sums: dict[tuple[Any, str], dict[str, Any]] = {}
    for g in groups:
        total = sums.setdefault(
            (g[key], g["currency"]),
            {"n": 0, "accepted_n": 0, "converted_n": 0, "revenue": ZERO, "cost": ZERO, "net": ZERO},
        )
        total["n"] += g["n"]
        total["accepted_n"] += g["accepted_n"]
        total["converted_n"] += g["converted_n"]
        total["revenue"] += g["revenue_sum"] or ZERO
        total["cost"] += g["remedy_cost_sum"] or ZERO
        total["net"] += g["net_sum"] or ZERO
    lines = [
        InvitedLine(
            key="" if value is None else str(value),
            label=label(value),
            currency=currency,
            interventions=t["n"],
            chats_accepted=t["accepted_n"],
            converted=t["converted_n"],
            conversion_rate=t["converted_n"] / t["n"] if t["n"] else None,
            revenue=_round(t["revenue"], currency),
            remedy_cost=_round(t["cost"], currency),
            net_revenue=_round(t["net"], currency),
        )
        for (value, currency), t in sums.items()
    ]
    lines.sort(key=lambda line: (-line.interventions, line.label, line.currency, line.key))
    return lines


def _funnel(groups: Sequence[Group]) -> Funnel:
    invited = [g for g in groups if g["decision"] == Decision.INVITED]

    def result(value: object) -> int:
        return _count(invited, f"result_{value}")

    accepted = result(InvitationResult.ACCEPTED)
    dismissed = result(InvitationResult.DISMISSED)
    ignored = result(InvitationResult.IGNORED)
    no_answer_yet = result(InvitationResult.DELIVERED)
    return Funnel(
        invited=_count(invited),
        # Not yet sent, or recorded before outcomes existed (no result at all).
        pending=result(InvitationResult.PENDING) + result(InvitationResult.NONE),
        shown=no_answer_yet + accepted + dismissed + ignored,
        no_answer_yet=no_answer_yet,
        accepted=accepted,
        dismissed=dismissed,
        ignored=ignored,
        undelivered=result(InvitationResult.UNDELIVERED),
    )


def _emailed(interventions: QuerySet[Intervention]) -> int:
    """Interventions with an email sent to their shopper (``agents.ShopperEmail``): one
    indexed semi-join over the period's interventions."""
    return (
        interventions.filter(emails__status=ShopperEmailStatus.SENT).values("pk").distinct().count()
    )


def _suppression_reasons(groups: Sequence[Group]) -> list[CountLine]:
    suppressed = [g for g in groups if g["decision"] == Decision.SUPPRESSED]
    keys = sorted(
        {g["suppression_reason"] for g in suppressed}, key=_choice_order(SuppressionReason)
    )
    return [
        CountLine(
            key=key,
            label=_label(SuppressionReason, key, "No reason recorded"),
            count=_count(suppressed, suppression_reason=key),
        )
        for key in keys
    ]


def _follow_ups(groups: Sequence[Group], rows: Sequence[Group]) -> FollowUps:
    """The follow-up rate (interventions with at least one follow-up contact) by arm, and
    the contacts credited to the filtered interventions (``rows``: by the intervention's
    decision, reason, channel and resolution) by reason and channel."""

    def lines(field: str, choices: type[Any]) -> list[FollowUpLine]:
        keys = sorted({r[field] for r in rows}, key=_choice_order(choices))
        return [
            FollowUpLine(
                key=key,
                label=_label(choices, key),
                invited=sum(
                    r["n"] for r in rows if r[field] == key and r["decision"] == Decision.INVITED
                ),
                held_out=sum(
                    r["n"] for r in rows if r[field] == key and r["decision"] == Decision.HELD_OUT
                ),
                **deflection_counts([r for r in rows if r[field] == key]),
            )
            for key in keys
        ]

    return FollowUps(
        rate=_comparison(groups, "followed_up_n"),
        invited_contacts=_count(groups, "follow_up_contact_n", decision=Decision.INVITED),
        held_out_contacts=_count(groups, "follow_up_contact_n", decision=Decision.HELD_OUT),
        by_reason=lines("reason", FollowUpReason),
        by_channel=lines("channel", FollowUpChannel),
        deflection=deflection(rows),
    )


def _response_times(chats: QuerySet[Intervention]) -> ResponseTimes:
    """Median and 90th percentile of the time to first response, as ``percentile_cont``
    defines them (linear interpolation between the two nearest values).

    PostgreSQL computes them with ``percentile_cont`` in one query. Elsewhere (SQLite),
    after a count, each percentile reads only the one or two values around its position
    with ORDER BY … LIMIT 2 OFFSET k and interpolates: the same result, two rows read.
    """
    column = "first_response_seconds"
    if connection.vendor == "postgresql":
        figures = chats.aggregate(
            n=Count("id"),
            mean=Avg(column),
            median=PercentileCont(column, fraction=0.5),
            p90=PercentileCont(column, fraction=0.9),
        )
        return ResponseTimes(
            chats=figures["n"],
            mean_seconds=figures["mean"],
            median_seconds=figures["median"],
            p90_seconds=figures["p90"],
            method="percentile_cont",
        )
    figures = chats.aggregate(n=Count("id"), mean=Avg(column))
    n = figures["n"]

    def percentile(fraction: float) -> float | None:
        if not n:
            return None
        position = (n - 1) * fraction
        below = math.floor(position)
        values = list(chats.order_by(column).values_list(column, flat=True)[below : below + 2])
        if len(values) == 1 or position == below:
            return float(values[0])
        return float(values[0] + (values[1] - values[0]) * (position - below))

    return ResponseTimes(
        chats=n,
        mean_seconds=figures["mean"],
        median_seconds=percentile(0.5),
        p90_seconds=percentile(0.9),
        method="order_offset",
    )


def _response_times_by_seconds(
    chats: QuerySet[Intervention], seconds: Sequence[tuple[int, int, float]]
) -> ResponseTimes:
    """The figures of ``_response_times`` without reading every chat: the count and mean
    from ``seconds`` (the chats per whole second of their first response, with the sum
    of their seconds, from the rollups), and each percentile's one or two values picked
    among the chats of the whole second its rank falls in (index
    ``intervention_chat_seconds``), interpolated as ``percentile_cont`` does. The mean is
    the same as AVG's up to the order floats are added in (last bits)."""
    column = "first_response_seconds"
    n = sum(count for _, count, _ in seconds)

    def pick(rank: int, count: int) -> list[float]:
        """``count`` values from the ``rank``-th smallest (0-based)."""
        values: list[float] = []
        below = 0
        for second, in_second, _ in seconds:
            if rank < below + in_second and len(values) < count:
                start = max(rank - below, 0)
                values += (
                    chats.filter(
                        first_response_seconds__gte=second, first_response_seconds__lt=second + 1
                    )
                    .order_by(column)
                    .values_list(column, flat=True)[start : start + count - len(values)]
                )
                rank = below + in_second
            below += in_second
        return values

    def percentile(fraction: float) -> float | None:
        if not n:
            return None
        position = (n - 1) * fraction
        below = math.floor(position)
        values = pick(below, 1 if position == below else 2)
        if position == below:
            return float(values[0])
        return float(values[0] + (values[1] - values[0]) * (position - below))

    try:
        median, p90 = percentile(0.5), percentile(0.9)
    except IndexError:  # the chats changed since the rollups were read
        return _response_times(chats)
    return ResponseTimes(
        chats=n,
        mean_seconds=math.fsum(total for _, _, total in seconds) / n if n else None,
        median_seconds=median,
        p90_seconds=p90,
        method="second_buckets",
    )


def _daily(day_groups: Sequence[Group], date_from: date, date_to: date) -> list[Day]:
    counts: dict[tuple[date, object], list[int]] = defaultdict(lambda: [0, 0])
    for g in day_groups:
        counts[g["day"], g["decision"]][0] += g["n"]
        counts[g["day"], g["decision"]][1] += g["converted_n"]
    days = []
    day = date_from
    while day <= date_to:
        invited, invited_converted = counts.get((day, Decision.INVITED), (0, 0))
        held_out, held_out_converted = counts.get((day, Decision.HELD_OUT), (0, 0))
        days.append(
            Day(
                day=day,
                invited=invited,
                invited_converted=invited_converted,
                invited_rate=invited_converted / invited if invited else None,
                held_out=held_out,
                held_out_converted=held_out_converted,
                held_out_rate=held_out_converted / held_out if held_out else None,
            )
        )
        day += timedelta(days=1)
    return days


def _daily_money(day_groups: Sequence[Group]) -> list[DayMoney]:
    """Revenue credited to invited carts and the remedy cost, per day and currency (days
    with no invited carts are left out)."""
    invited = [g for g in day_groups if g["decision"] == Decision.INVITED]
    keys = sorted({(g["day"], g["currency"]) for g in invited})
    return [
        DayMoney(
            day=day,
            currency=currency,
            revenue=_amount([g for g in invited if g["day"] == day], "revenue_sum", currency),
            remedy_cost=_amount(
                [g for g in invited if g["day"] == day], "remedy_cost_sum", currency
            ),
        )
        for day, currency in keys
    ]
