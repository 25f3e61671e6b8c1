"""Pacing outreach to the helpdesk's capacity: the database side (docs/adr/0024).

The pure rules are in cartassist/domain/pacing.py. Here:

- ``capacity_snapshot``: a site's capacity grid and live queue, read with the site
  (the sweep's site query joins it: no query of its own);
- ``follow_up_model_get``: the follow-up rates by stall reason and the delay curve,
  measured from the site's invitations and helpdesk contacts, cached per site for the
  clock hour (a sweep batch reads it from memory);
- ``helpdesk_load``: capacity and the expected arrivals of the recent invitations per
  clock hour (one grouped query);
- ``SitePacer``: the sweep's per-batch ledger, deciding invitations in urgency order;
- ``helpdesk_queue_report``: the helpdesk's live queue (signed API).

Only sites with pacing on (``HelpdeskCapacity.pacing_enabled``) are paced; the sweep's
"nothing due" path reads none of this.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count
from django.db.models.functions import TruncHour

from cartassist.carts.models import (
    Decision,
    FollowUpContact,
    FollowUpSource,
    HelpdeskCapacity,
    Intervention,
    Site,
)
from cartassist.core.stamps import StampedCache
from cartassist.domain.pacing import (
    HOUR,
    MAX_CARRY_HOURS,
    FollowUpCounts,
    FollowUpModel,
    HelpdeskLoad,
    PacingOutcome,
    PacingPrior,
    delay_curve,
    delay_histogram,
    follow_up_rates,
    hour_start,
    pacing_allows,
    pacing_outcome,
    spread,
    weekly_capacity,
)

# Invitations of one clock hour are counted at its middle: the load's resolution is an
# hour, like the delay curve's.
HALF_HOUR = timedelta(minutes=30)
STATS_STAMP = "pacing-stats"


@dataclass(frozen=True, slots=True)
class CapacitySnapshot:
    """A site's helpdesk capacity as the sweep reads it (read-only, shared)."""

    pacing_enabled: bool
    hourly: tuple[tuple[int, ...], ...]
    open_contacts: int | None = None
    capacity_override: int | None = None
    override_hour_start: datetime | None = None
    reported_at: datetime | None = None


_models: StampedCache[tuple[int, datetime], FollowUpModel] = StampedCache(STATS_STAMP)


def pacing_prior() -> PacingPrior:
    """The documented prior, with the settings' rate and strengths (docs/SETTINGS.md)."""
    return PacingPrior(
        rate=settings.CARTASSIST_PACING_PRIOR_RATE_PERCENT / 100,
        rate_strength=settings.CARTASSIST_PACING_PRIOR_STRENGTH,
        reason_strength=settings.CARTASSIST_PACING_REASON_STRENGTH,
    )


def capacity_snapshot(site: Site) -> CapacitySnapshot | None:
    """The site's helpdesk capacity; None when none is set. Load sites with
    ``select_related("helpdesk_capacity")`` to read it without a query."""
    try:
        row = site.helpdesk_capacity
    except HelpdeskCapacity.DoesNotExist:
        return None
    return CapacitySnapshot(
        pacing_enabled=row.pacing_enabled,
        hourly=tuple(tuple(int(c) for c in day) for day in row.hourly),
        open_contacts=row.open_contacts,
        capacity_override=row.capacity_override,
        override_hour_start=row.override_hour_start,
        reported_at=row.reported_at,
    )


def follow_up_model_get(*, site: Site, now: datetime) -> FollowUpModel:
    """``follow_up_model_compute`` for this clock hour, cached in the process."""
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return _models.get((site.pk, hour), lambda: follow_up_model_compute(site=site, now=hour))


def follow_up_model_compute(*, site: Site, now: datetime) -> FollowUpModel:
    """The follow-up rates by stall reason and the delay curve of ``site`` at ``now``:
    ``follow_up_observations``, then the rates shrunk towards the overall rate and the
    prior, and the delay histogram shrunk towards the default shape
    (cartassist/domain/pacing.py)."""
    prior = pacing_prior()
    counts, delays = follow_up_observations(site=site, now=now)
    rates, overall = follow_up_rates(counts, prior=prior)
    histogram = delay_histogram(delays, hours=settings.CARTASSIST_PACING_DELAY_HOURS)
    return FollowUpModel(rates=rates, overall=overall, curve=delay_curve(histogram, prior=prior))


def follow_up_counts(*, site: Site, now: datetime) -> dict[str, FollowUpCounts]:
    """Per stall reason: invitations measured, and how many were followed up."""
    return follow_up_observations(site=site, now=now)[0]


def follow_up_observations(
    *, site: Site, now: datetime
) -> tuple[dict[str, FollowUpCounts], list[timedelta]]:
    """What the follow-up model is measured from, at ``now``:

    1. the invitations of the last CARTASSIST_PACING_STATS_DAYS whose delay window
       (CARTASSIST_PACING_DELAY_HOURS) has closed, by stall reason;
    2. their first helpdesk contact (source "helpdesk": the phone and email team, not
       chats) within the window: which invitations were followed up, and the delays.
    """
    window = timedelta(hours=settings.CARTASSIST_PACING_DELAY_HOURS)
    closed = Intervention.objects.filter(
        site=site,
        decision=Decision.INVITED,
        decided_at__gte=now - timedelta(days=settings.CARTASSIST_PACING_STATS_DAYS),
        decided_at__lte=now - window,
    ).order_by()
    invitations = dict(closed.values_list("stall_reason").annotate(n=Count("id")))
    first: dict[int, tuple[str, timedelta]] = {}
    contacts = FollowUpContact.objects.filter(
        site=site, source=FollowUpSource.HELPDESK, intervention__in=closed, occurred_at__lte=now
    ).values_list(
        "intervention_id", "intervention__stall_reason", "intervention__decided_at", "occurred_at"
    )
    for intervention_id, reason, decided_at, occurred_at in contacts.iterator():
        delay = occurred_at - decided_at
        if timedelta(0) <= delay < window:
            known = first.get(intervention_id)
            if known is None or delay < known[1]:
                first[intervention_id] = (reason, delay)
    followed: dict[str, int] = defaultdict(int)
    for reason, _delay in first.values():
        followed[reason] += 1
    counts = {
        reason: FollowUpCounts(invitations=n, followed_up=followed[reason])
        for reason, n in invitations.items()
    }
    return counts, [delay for _reason, delay in first.values()]


def invited_by_hour(
    *, site: Site, since: datetime, until: datetime
) -> list[tuple[datetime, str, int]]:
    """The site's invitations from ``since`` to ``until``: (UTC clock hour, stall reason,
    count); one grouped query through the ``intervention_site_time`` index."""
    rows = (
        Intervention.objects.filter(
            site=site, decision=Decision.INVITED, decided_at__gte=since, decided_at__lt=until
        )
        .order_by()
        .annotate(hour=TruncHour("decided_at", tzinfo=UTC))
        .values_list("hour", "stall_reason")
        .annotate(n=Count("id"))
    )
    return [(hour, reason, n) for hour, reason, n in rows]


def expected_arrivals(
    invited: list[tuple[datetime, str, int]],
    model: FollowUpModel,
    *,
    start: datetime,
    hours: int,
) -> list[float]:
    """The expected helpdesk contacts per one-hour bucket from ``start`` caused by the
    ``invited`` groups, each counted at the middle of its hour."""
    total = [0.0] * hours
    for hour, reason, n in invited:
        placed = spread(
            hour + HALF_HOUR, n * model.rate(reason), model.curve, start=start, hours=hours
        )
        total = [a + b for a, b in zip(total, placed, strict=True)]
    return total


def capacity_per_hour(
    capacity: CapacitySnapshot, *, site: Site, start: datetime, hours: int, now: datetime
) -> list[float]:
    """The helpdesk's capacity for each one-hour bucket from ``start``: the grid in the
    site's time zone, or the live override for the hour it was reported for."""
    current = hour_start(now, timezone=site.timezone)
    result: list[float] = []
    for index in range(hours):
        moment = start + index * HOUR
        value = weekly_capacity(capacity.hourly, moment, timezone=site.timezone)
        if (
            moment == current
            and capacity.capacity_override is not None
            and capacity.override_hour_start == current
        ):
            value = capacity.capacity_override
        result.append(float(value))
    return result


def helpdesk_load(
    *, site: Site, capacity: CapacitySnapshot, model: FollowUpModel, now: datetime
) -> HelpdeskLoad:
    """The helpdesk's hours around ``now``: from CARTASSIST_PACING_DELAY_HOURS back (so a
    backlog carried over closed hours counts) to the horizon and a week beyond, with
    capacity and the expected arrivals of the invitations already made."""
    lookback = settings.CARTASSIST_PACING_DELAY_HOURS
    current = hour_start(now, timezone=site.timezone)
    start = current - lookback * HOUR
    hours = lookback + settings.CARTASSIST_PACING_HORIZON_HOURS + MAX_CARRY_HOURS
    invited = invited_by_hour(site=site, since=start - HOUR, until=now + HOUR)
    live = (
        capacity.reported_at is not None
        and capacity.open_contacts is not None
        and now - capacity.reported_at <= settings.CARTASSIST_HELPDESK_QUEUE_MAX_AGE
    )
    return HelpdeskLoad(
        start=start,
        current=lookback,
        capacity=tuple(capacity_per_hour(capacity, site=site, start=start, hours=hours, now=now)),
        arrivals=tuple(expected_arrivals(invited, model, start=start, hours=hours)),
        backlog_floor=float(capacity.open_contacts or 0) if live else 0.0,
    )


@dataclass
class SitePacer:
    """One site's pacing ledger for one decision pass of a sweep batch: the helpdesk's
    load, plus the arrivals of the invitations this pass has decided to send."""

    load: HelpdeskLoad
    model: FollowUpModel
    now: datetime
    added: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget this pass's invitations (the sweep decides a batch twice)."""
        self.added = [0.0] * len(self.load.capacity)

    def refuse(self, *, due_since: datetime) -> PacingOutcome:
        """Wait or give up without looking at the capacity (a visitor the pass may not
        invite: its row is not locked)."""
        return pacing_outcome(
            allowed=False,
            now=self.now,
            due_since=due_since,
            max_wait=settings.CARTASSIST_PACING_MAX_WAIT,
        )

    def decide(self, *, stall_reason: str, due_since: datetime) -> PacingOutcome:
        """Invite (and count its expected follow-ups), wait, or give up (helpdesk busy)."""
        placed = spread(
            hour_start(self.now, timezone="UTC") + HALF_HOUR,
            self.model.rate(stall_reason),
            self.model.curve,
            start=self.load.start,
            hours=len(self.added),
        )
        candidate = [a + b for a, b in zip(self.added, placed, strict=True)]
        allowed = pacing_allows(
            self.load, candidate, horizon=settings.CARTASSIST_PACING_HORIZON_HOURS
        )
        outcome = pacing_outcome(
            allowed=allowed,
            now=self.now,
            due_since=due_since,
            max_wait=settings.CARTASSIST_PACING_MAX_WAIT,
        )
        if outcome is PacingOutcome.INVITE:
            self.added = candidate
        return outcome


def site_pacers(*, sites: dict[int, Site], now: datetime) -> dict[int, SitePacer]:
    """A fresh ``SitePacer`` for each of ``sites`` with pacing on (one grouped query for
    each; the capacity read with the site, the follow-up model from the process's cache)."""
    pacers = {}
    for site_id, site in sites.items():
        capacity = capacity_snapshot(site)
        if capacity is None or not capacity.pacing_enabled:
            continue
        model = follow_up_model_get(site=site, now=now)
        load = helpdesk_load(site=site, capacity=capacity, model=model, now=now)
        pacers[site_id] = SitePacer(load=load, model=model, now=now)
    return pacers


def helpdesk_queue_report(
    *, site: Site, open_contacts: int, capacity_override: int | None, now: datetime
) -> HelpdeskCapacity:
    """Record the helpdesk's live queue: contacts open now and, optionally, the contacts
    it absorbs in the current local hour instead of the grid's. Creates the site's
    capacity row (with the default grid, pacing off) when it has none."""
    row, _ = HelpdeskCapacity.objects.get_or_create(site=site)
    live = {
        "open_contacts": open_contacts,
        "capacity_override": capacity_override,
        "override_hour_start": (
            hour_start(now, timezone=site.timezone) if capacity_override is not None else None
        ),
        "reported_at": now,
    }
    # Only the live fields: an admin editing the grid meanwhile keeps their change.
    HelpdeskCapacity.objects.filter(pk=row.pk).update(**live)
    for name, value in live.items():
        setattr(row, name, value)
    return row
