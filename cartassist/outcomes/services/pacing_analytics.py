"""The helpdesk pacing figures (docs/ANALYTICS.md, "Helpdesk pacing"): expected and actual
follow-ups per hour against the helpdesk's capacity, and the outreach that waited for it
or was suppressed as "helpdesk busy". Kept apart from ``analytics.py``: one site at a
time (capacity is per site), read from the rows (no rollup)."""

from __future__ import annotations

import statistics
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q

from cartassist.carts.models import (
    Decision,
    FollowUpContact,
    FollowUpSource,
    Intervention,
    Site,
    StallReason,
    SuppressionReason,
)
from cartassist.carts.models.helpdesk import office_hours_grid
from cartassist.carts.services.pacing import (
    CapacitySnapshot,
    capacity_per_hour,
    capacity_snapshot,
    expected_arrivals,
    follow_up_counts,
    follow_up_model_compute,
    invited_by_hour,
)
from cartassist.domain.pacing import HOUR
from cartassist.domain.pacing_report import FollowUpRateLine, HelpdeskHour, HelpdeskPacing

# The hourly series covers the period's last this many days.
HOURLY_DAYS = 7


def helpdesk_pacing_compute(
    *, site: Site, date_from: date, date_to: date, now: datetime
) -> HelpdeskPacing:
    """Pacing on ``site`` from ``date_from`` to ``date_to`` (inclusive, site time zone).

    1. The follow-up model as pacing uses it now (rates by reason, delay curve).
    2. For each hour of the period's last HOURLY_DAYS days: the contacts expected from
       the invitations (those of the delay window before, too), spread with today's
       model; the helpdesk contacts credited to an invitation; the grid's capacity.
    3. Over the whole period: invitations that waited for the helpdesk, their median
       wait, and the carts suppressed as "helpdesk busy".
    """
    tz = ZoneInfo(site.timezone)
    start = datetime.combine(date_from, time.min, tzinfo=tz)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=tz)
    hours_start = max(start, end - timedelta(days=HOURLY_DAYS))
    hours = round((end - hours_start) / HOUR)
    site = Site.objects.select_related("helpdesk_capacity").get(pk=site.pk)
    capacity = capacity_snapshot(site) or CapacitySnapshot(
        pacing_enabled=False, hourly=tuple(tuple(d) for d in office_hours_grid())
    )
    model = follow_up_model_compute(site=site, now=now)
    delay = timedelta(hours=settings.CARTASSIST_PACING_DELAY_HOURS)
    invited = invited_by_hour(site=site, since=hours_start - delay, until=end)
    expected = expected_arrivals(invited, model, start=hours_start, hours=hours)
    actual = _actual_per_hour(site, start=hours_start, hours=hours)
    grid = capacity_per_hour(capacity, site=site, start=hours_start, hours=hours, now=now)
    series = [
        HelpdeskHour(
            start=(hours_start + index * HOUR).astimezone(tz).isoformat(),
            expected=expected[index],
            actual=actual[index],
            capacity=int(grid[index]),
        )
        for index in range(hours)
    ]
    waits = _waits(site, start=start, end=end)
    counts = follow_up_counts(site=site, now=now)
    labels = dict(StallReason.choices)
    return HelpdeskPacing(
        site_id=site.pk,
        pacing_enabled=capacity.pacing_enabled,
        hours_from=hours_start.astimezone(tz).isoformat(),
        hours=series,
        expected_total=sum(expected),
        actual_total=sum(actual),
        hours_over_capacity_expected=sum(
            1 for h in series if h.capacity > 0 and h.expected > h.capacity
        ),
        hours_over_capacity_actual=sum(
            1 for h in series if h.capacity > 0 and h.actual > h.capacity
        ),
        invitations_waited=len(waits),
        median_wait_seconds=statistics.median(waits) if waits else None,
        suppressed_helpdesk_busy=Intervention.objects.filter(
            site=site,
            decided_at__gte=start,
            decided_at__lt=end,
            suppression_reason=SuppressionReason.HELPDESK_BUSY,
        ).count(),
        waiting_then_other=Intervention.objects.filter(
            site=site, decided_at__gte=start, decided_at__lt=end, paced_wait__isnull=False
        )
        .exclude(
            Q(decision=Decision.INVITED) | Q(suppression_reason=SuppressionReason.HELPDESK_BUSY)
        )
        .count(),
        overall_rate=model.overall,
        rates=[
            FollowUpRateLine(
                stall_reason=reason,
                label=str(labels.get(reason, reason)),
                invitations=c.invitations,
                followed_up=c.followed_up,
                rate=model.rate(reason),
            )
            for reason, c in sorted(counts.items())
        ],
        curve_first_hour=model.curve[0] if model.curve else 0.0,
        curve_first_day=sum(model.curve[:24]),
    )


def _actual_per_hour(site: Site, *, start: datetime, hours: int) -> list[int]:
    counts = [0] * hours
    contacts = FollowUpContact.objects.filter(
        site=site,
        source=FollowUpSource.HELPDESK,
        intervention__decision=Decision.INVITED,
        occurred_at__gte=start,
        occurred_at__lt=start + hours * HOUR,
    ).values_list("occurred_at", flat=True)
    for occurred_at in contacts.iterator():
        counts[int((occurred_at - start) / HOUR)] += 1
    return counts


def _waits(site: Site, *, start: datetime, end: datetime) -> list[float]:
    return [
        wait.total_seconds()
        for wait in Intervention.objects.filter(
            site=site,
            decided_at__gte=start,
            decided_at__lt=end,
            decision=Decision.INVITED,
            paced_wait__isnull=False,
        )
        .order_by()
        .values_list("paced_wait", flat=True)
        .iterator()
        if wait is not None
    ]
