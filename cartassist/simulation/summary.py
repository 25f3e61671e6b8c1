"""What a run did and what the analytics measured, and the summary the command prints."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from agents.models import (
    Conversation,
    Invitation,
    Message,
)
from cartassist.carts.models import Cart, Decision, FollowUpContact, Intervention
from cartassist.outcomes.services.analytics import analytics_compute
from cartassist.simulation.journey import SimulationRun
from cartassist.simulation.population import SimulationConfig
from policies.models import Grant, Offer


@dataclass(frozen=True)
class Measured:
    """What the analytics report for the simulated period (``source`` says which code)."""

    source: str  # "analytics_compute": the analytics the page and the API show
    invited: int
    invited_converted: int
    held_out: int
    held_out_converted: int
    invited_rate: float | None
    held_out_rate: float | None
    uplift: float | None
    uplift_low: float | None
    uplift_high: float | None
    invited_followed_up: int
    held_out_followed_up: int
    follow_up_rate: float | None
    held_out_follow_up_rate: float | None
    other_interventions: int  # in the period but not from this run (earlier runs, live)
    # The always-valid 95 % interval, and the CUPED-adjusted uplift with its interval and
    # the variance it removed (docs/ANALYTICS.md).
    sequence_low: float | None = None
    sequence_high: float | None = None
    cuped_uplift: float | None = None
    cuped_low: float | None = None
    cuped_high: float | None = None
    variance_reduction: float | None = None


@dataclass(frozen=True)
class SimulationSummary:
    config: SimulationConfig
    site_id: int
    site_name: str
    run: str
    date_from: date
    date_to: date
    shoppers: int
    stalled: int
    decisions: dict[str, int]
    suppression_reasons: dict[str, int]
    invitations: dict[str, int]
    conversations: int
    messages: int
    offers: dict[str, int]
    grants_issued: int
    grants_redeemed: int
    orders: int
    attribution: dict[str, int]
    follow_up_contacts: int
    follow_up_contacts_credited: int
    follow_up_reasons: dict[str, int]
    measured: Measured


# --- the summary --------------------------------------------------------------------------


def simulation_summary(run: SimulationRun) -> SimulationSummary:
    site = run.site
    ours = Intervention.objects.filter(site=site, visitor_id__startswith=run.prefix)
    decisions = Counter(ours.values_list("decision", flat=True))
    suppressions = Counter(
        ours.filter(decision=Decision.SUPPRESSED).values_list("suppression_reason", flat=True)
    )
    invitations = Counter(
        Invitation.objects.filter(site=site, visitor_id__startswith=run.prefix).values_list(
            "status", flat=True
        )
    )
    conversations = Conversation.objects.filter(site=site, visitor_id__startswith=run.prefix)
    offers = Counter(
        Offer.objects.filter(
            site=site, conversation__visitor_id__startswith=run.prefix
        ).values_list("status", flat=True)
    )
    grants = Grant.objects.filter(site=site, cart__visitor_id__startswith=run.prefix)
    contacts = FollowUpContact.objects.filter(site=site, key__startswith=run.prefix)
    return SimulationSummary(
        config=run.config,
        site_id=site.pk,
        site_name=site.name,
        run=run.run,
        date_from=run.first_day,
        date_to=run.horizon.date(),
        shoppers=run.config.shoppers,
        stalled=ours.values("cart_id").distinct().count(),
        decisions=dict(sorted(decisions.items())),
        suppression_reasons=dict(sorted(suppressions.items())),
        invitations=dict(sorted(invitations.items())),
        conversations=conversations.count(),
        messages=Message.objects.filter(conversation__in=conversations).count(),
        offers=dict(sorted(offers.items())),
        grants_issued=grants.count(),
        grants_redeemed=grants.filter(redeemed_at__isnull=False).count(),
        orders=Cart.objects.filter(
            site=site, visitor_id__startswith=run.prefix, status="converted"
        ).count(),
        attribution=dict(
            sorted(
                Counter(ours.filter(converted=True).values_list("attribution", flat=True)).items()
            )
        ),
        follow_up_contacts=contacts.count(),
        follow_up_contacts_credited=contacts.filter(intervention__isnull=False).count(),
        follow_up_reasons=dict(sorted(Counter(contacts.values_list("reason", flat=True)).items())),
        measured=_measure(run, ours.count()),
    )


def _measure(run: SimulationRun, ours: int) -> Measured:
    """The figures as the analytics report them for the site and the simulated period."""
    site = run.site
    date_from, date_to = run.first_day, run.horizon.date()
    start = datetime.combine(date_from, time.min, tzinfo=run.tz)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=run.tz)
    in_period = Intervention.objects.filter(site=site, decided_at__gte=start, decided_at__lt=end)
    other = in_period.count() - ours
    report = analytics_compute(site_ids=[site.pk], date_from=date_from, date_to=date_to, tz=run.tz)
    conversion, follow_ups = report.conversion, report.follow_ups.rate
    return Measured(
        source="analytics_compute",
        invited=conversion.invited,
        invited_converted=conversion.invited_successes,
        held_out=conversion.held_out,
        held_out_converted=conversion.held_out_successes,
        invited_rate=conversion.invited_rate,
        held_out_rate=conversion.held_out_rate,
        uplift=conversion.uplift,
        uplift_low=conversion.uplift_low,
        uplift_high=conversion.uplift_high,
        invited_followed_up=follow_ups.invited_successes,
        held_out_followed_up=follow_ups.held_out_successes,
        follow_up_rate=follow_ups.invited_rate,
        held_out_follow_up_rate=follow_ups.held_out_rate,
        other_interventions=other,
        sequence_low=conversion.sequence_low,
        sequence_high=conversion.sequence_high,
        cuped_uplift=report.cuped.uplift if report.cuped else None,
        cuped_low=report.cuped.uplift_low if report.cuped else None,
        cuped_high=report.cuped.uplift_high if report.cuped else None,
        variance_reduction=report.cuped.variance_reduction if report.cuped else None,
    )


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _points(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.1f} pp"


def standard_error(rate: float, n: int) -> float:
    """The binomial standard error of a rate measured on ``n`` shoppers."""
    return math.sqrt(rate * (1 - rate) / n) if n else math.inf


def summary_lines(summary: SimulationSummary) -> list[str]:
    """The summary as the command prints it."""
    c, m = summary.config, summary.measured
    true_uplift = c.invited_conversion - c.holdout_conversion
    inside = (
        m.uplift_low is not None
        and m.uplift_high is not None
        and m.uplift_low <= true_uplift <= m.uplift_high
    )
    lines = [
        f"Simulated {summary.shoppers} shoppers on “{summary.site_name}” (run {summary.run}, "
        f"seed {c.seed}), decided {summary.date_from} to {summary.date_to}.",
        "",
        "True rates used",
        f"  conversion if invited     {_percent(c.invited_conversion)}",
        f"  conversion if held out    {_percent(c.holdout_conversion)}",
        f"  uplift                    {_points(true_uplift)}",
        f"  follow-up after outreach  {_percent(c.follow_up_rate)}   "
        f"(held out: {_percent(c.holdout_follow_up_rate)})",
        f"  holdout share             {_percent(float(c.holdout_share))}",
        "",
        f"Measured (read back from {m.source})",
        f"  invited                   {m.invited_converted} / {m.invited} converted = "
        f"{_percent(m.invited_rate)}",
        f"  held out                  {m.held_out_converted} / {m.held_out} converted = "
        f"{_percent(m.held_out_rate)}",
        f"  uplift                    {_points(m.uplift)}, 95 % CI "
        f"[{_points(m.uplift_low)}, {_points(m.uplift_high)}]"
        f" — {'contains' if inside else 'does NOT contain'} the true uplift",
        f"  always-valid 95 % interval [{_points(m.sequence_low)}, {_points(m.sequence_high)}]",
        f"  CUPED-adjusted uplift     {_points(m.cuped_uplift)}, 95 % CI "
        f"[{_points(m.cuped_low)}, {_points(m.cuped_high)}], variance reduction "
        f"{_percent(m.variance_reduction)}",
        f"  follow-up after outreach  {m.invited_followed_up} / {m.invited} = "
        f"{_percent(m.follow_up_rate)}   (held out: {m.held_out_followed_up} / {m.held_out} = "
        f"{_percent(m.held_out_follow_up_rate)})",
    ]
    if m.other_interventions:
        lines.append(
            f"  note: the period also holds {m.other_interventions} interventions that are not "
            "from this run; simulate on a site of its own for figures of this run alone."
        )
    lines += [
        "",
        "Through the pipeline",
        f"  stalled carts             {summary.stalled}   decisions: {_counts(summary.decisions)}",
        f"  suppressed because        {_counts(summary.suppression_reasons) or '—'}",
        f"  invitations               {_counts(summary.invitations)}",
        f"  chats                     {summary.conversations} with {summary.messages} messages",
        f"  offers                    {_counts(summary.offers) or '—'}",
        f"  grants                    {summary.grants_issued} issued, "
        f"{summary.grants_redeemed} redeemed",
        f"  orders                    {summary.orders}   attributed: "
        f"{_counts(summary.attribution) or '—'}",
        f"  follow-up contacts        {summary.follow_up_contacts} "
        f"({summary.follow_up_contacts_credited} credited to an intervention): "
        f"{_counts(summary.follow_up_reasons) or '—'}",
    ]
    return lines


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key or 'none'} {value}" for key, value in counts.items())
