"""Daily rollups of the analytics, kept exact (docs/ANALYTICS.md, "Cost"; ADR 0019).

The rollups of a (site, time zone, local day) are the interventions and follow-up
contacts of that day grouped by every dimension the report splits by
(``cartassist/carts/models/rollups.py``). A day's rollups are recomputed from the raw rows
in one snapshot together with the versions of the UTC days it overlaps (triggers raise a
UTC day's version in the same transaction as any change to its interventions or their
contacts). A day is read from its rollups only while those versions are unchanged;
otherwise it is recomputed before the report reads it. So the rollups cannot drift:
the report equals the query over the raw rows (``analytics_compute(..., rollups=False)``),
which the tests check on random data.

A day whose UTC days were never marked has no interventions: nothing is stored or read
for it. Days are recomputed on read (the day in progress, after each change) or ahead
of time by ``manage.py analytics_rollups`` (a backfill, or after a restore).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import (
    BigIntegerField,
    Count,
    DateTimeField,
    F,
    FloatField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Cast, Floor, Ln, TruncDate

from cartassist.carts.models import (
    AnalyticsChange,
    AnalyticsContact,
    AnalyticsDay,
    AnalyticsGroup,
    AnalyticsMoment,
    AnalyticsRepeat,
    AnalyticsResponse,
    Decision,
    FollowUpContact,
    Intervention,
    InvitationResult,
    Site,
)

# The grouped dimensions of ``AnalyticsGroup`` (the report's main groups, the invited
# breakdowns and the daily series are all sums over them).
GROUP_KEYS = [
    "stall_reason",
    "decision",
    "suppression_reason",
    "currency",
    "policy_id",
    "remedy_kind",
    "agent_id",
]
# ``AnalyticsGroup`` column of each invitation result.
RESULT_COLUMNS = {value: f"result_{value or 'none'}" for value in InvitationResult.values}
# A recomputation covers at most this many days (one transaction).
MAX_RUN_DAYS = 92
# Change rows of a (site, UTC day) beyond this many are folded into one.
FOLD_ABOVE = 16
# Attempts when a concurrent recomputation of the same days wins (PostgreSQL).
ATTEMPTS = 5


def zone_key(tz: tzinfo) -> str:
    return str(tz)


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The instants [start, end) of a local day, as the report's filter computes them."""
    return (
        datetime.combine(day, time.min, tzinfo=tz),
        datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz),
    )


def utc_days(start: datetime, end: datetime) -> list[date]:
    """The UTC days the instants [start, end) overlap."""
    first = start.astimezone(UTC).date()
    last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def _days(date_from: date, date_to: date) -> list[date]:
    return [date_from + timedelta(days=k) for k in range((date_to - date_from).days + 1)]


def _runs(days: list[date]) -> Iterator[tuple[date, date]]:
    """Consecutive days as (first, last) runs of at most ``MAX_RUN_DAYS``."""
    run: list[date] = []
    for day in days:
        if run and (day - run[-1] != timedelta(days=1) or len(run) == MAX_RUN_DAYS):
            yield run[0], run[-1]
            run = []
        run.append(day)
    if run:
        yield run[0], run[-1]


@dataclass(frozen=True)
class RefreshResult:
    recomputed_days: int
    runs: int


def analytics_rollups_refresh(
    *, site_ids: Iterable[int], tz: tzinfo, date_from: date, date_to: date
) -> RefreshResult:
    """Make the rollups of ``site_ids`` in ``tz`` from ``date_from`` to ``date_to`` current:
    recompute every day whose UTC days changed since it was computed (two queries when
    none did)."""
    site_ids = sorted(set(site_ids))
    zone = zone_key(tz)
    days = _days(date_from, date_to)
    overlaps = {day: utc_days(*day_bounds(day, tz)) for day in days}
    low = overlaps[days[0]][0]
    high = overlaps[days[-1]][-1]
    versions: dict[tuple[int, date], int] = {}
    folds = []
    for row in (
        AnalyticsChange.objects.filter(site_id__in=site_ids, day__gte=low, day__lte=high)
        .order_by()
        .values("site_id", "day")
        .annotate(version=Sum("weight"), rows=Count("id"))
    ):
        versions[row["site_id"], row["day"]] = row["version"]
        if row["rows"] > FOLD_ABOVE:
            folds.append((row["site_id"], row["day"]))
    seen = {
        (site_id, day): value
        for site_id, day, value in AnalyticsDay.objects.filter(
            site_id__in=site_ids, zone=zone, day__gte=date_from, day__lte=date_to
        ).values_list("site_id", "day", "seen")
    }
    recomputed = runs = 0
    for site_id in site_ids:
        stale = []
        for day in days:
            expected = sum(versions.get((site_id, utc), 0) for utc in overlaps[day])
            if expected and seen.get((site_id, day)) != expected:
                stale.append(day)
        for first, last in _runs(stale):
            _recompute(site_id=site_id, tz=tz, first=first, last=last)
            recomputed += (last - first).days + 1
            runs += 1
    for site_id, day in folds:
        _fold(site_id=site_id, day=day)
    return RefreshResult(recomputed_days=recomputed, runs=runs)


# PostgreSQL advisory lock class of the recomputations (with the site id as second key).
LOCK_CLASS = 190019


def _recompute(*, site_id: int, tz: tzinfo, first: date, last: date) -> None:
    """Recompute, one recomputation of a site at a time (on PostgreSQL a session-level
    advisory lock, taken before the snapshot: a lock inside the transaction would leave it
    with a snapshot from before the wait, which fails to serialise against the
    recomputation it waited for)."""
    locked = connection.vendor == "postgresql"
    if locked:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_CLASS, site_id])
    try:
        for attempt in range(ATTEMPTS):
            try:
                _recompute_once(site_id=site_id, tz=tz, first=first, last=last)
                return
            except (OperationalError, IntegrityError) as error:
                # Should another recomputation of these days still have won (a
                # serialization failure, a deadlock, or the unique (site, zone, day) of
                # a day it stored first), do it again on a fresh snapshot.
                code = getattr(getattr(error, "__cause__", None), "sqlstate", None)
                if code not in {"40001", "40P01", "23505"} or attempt == ATTEMPTS - 1:
                    raise
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, site_id])


def _recompute_once(*, site_id: int, tz: tzinfo, first: date, last: date) -> None:
    zone = zone_key(tz)
    start, _ = day_bounds(first, tz)
    _, end = day_bounds(last, tz)
    isolate = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if isolate:
            # One snapshot for the versions and the rows they stand for. (Inside an outer
            # transaction, as in the tests, the caller's isolation applies.)
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        versions = dict(
            AnalyticsChange.objects.filter(
                site_id=site_id, day__gte=utc_days(start, end)[0], day__lte=utc_days(start, end)[-1]
            )
            .order_by()
            .values("day")
            .annotate(version=Sum("weight"))
            .values_list("day", "version")
        )
        where = {"site_id": site_id, "zone": zone, "day__gte": first, "day__lte": last}
        rollups = (
            AnalyticsGroup,
            AnalyticsRepeat,
            AnalyticsContact,
            AnalyticsResponse,
            AnalyticsMoment,
        )
        for model in (*rollups, AnalyticsDay):
            model.objects.filter(**where).delete()
        interventions = Intervention.objects.filter(
            site_id=site_id, decided_at__gte=start, decided_at__lt=end
        ).order_by()
        AnalyticsGroup.objects.bulk_create(
            AnalyticsGroup(site_id=site_id, zone=zone, **row) for row in _groups(interventions, tz)
        )
        AnalyticsRepeat.objects.bulk_create(
            AnalyticsRepeat(site_id=site_id, zone=zone, **row)
            for row in _repeats(interventions, tz)
        )
        AnalyticsMoment.objects.bulk_create(
            AnalyticsMoment(site_id=site_id, zone=zone, **row)
            for row in moments(
                interventions.annotate(day=TruncDate("decided_at", tzinfo=tz)), "day"
            )
        )
        contacts = FollowUpContact.objects.filter(
            intervention__site_id=site_id,
            intervention__decided_at__gte=start,
            intervention__decided_at__lt=end,
        ).order_by()
        AnalyticsContact.objects.bulk_create(
            AnalyticsContact(site_id=site_id, zone=zone, **row)
            for row in contacts.annotate(day=TruncDate("intervention__decided_at", tzinfo=tz))
            .values("day", "reason", "channel", "resolution", decision=F("intervention__decision"))
            .annotate(n=Count("id"))
        )
        AnalyticsResponse.objects.bulk_create(
            AnalyticsResponse(site_id=site_id, zone=zone, **row)
            for row in interventions.filter(
                decision=Decision.INVITED, first_response_seconds__isnull=False
            )
            .annotate(
                day=TruncDate("decided_at", tzinfo=tz),
                second=Cast(Floor("first_response_seconds"), BigIntegerField()),
            )
            .values("day", "second")
            .annotate(n=Count("id"), total=Sum("first_response_seconds"))
        )
        days = []
        for day in _days(first, last):
            seen = sum(versions.get(utc, 0) for utc in utc_days(*day_bounds(day, tz)))
            if seen:
                days.append(AnalyticsDay(site_id=site_id, zone=zone, day=day, seen=seen))
        AnalyticsDay.objects.bulk_create(days)


def _groups(interventions: Any, tz: tzinfo) -> Iterator[dict[str, Any]]:
    rows = (
        interventions.annotate(day=TruncDate("decided_at", tzinfo=tz))
        .values("day", *GROUP_KEYS)
        .annotate(
            n=Count("id"),
            converted_n=Count("id", filter=Q(converted=True)),
            followed_up_n=Count("id", filter=Q(follow_ups__gt=0)),
            follow_up_contact_n=Sum("follow_ups"),
            revenue_sum=Sum("revenue"),
            remedy_cost_sum=Sum("remedy_cost"),
            granted_sum=Sum("granted_amount"),
            net_sum=Sum("net_revenue"),
            **{
                column: Count("id", filter=Q(invitation_result=value))
                for value, column in RESULT_COLUMNS.items()
            },
        )
    )
    yield from rows


# The dimensions of ``AnalyticsMoment`` (CUPED's categorical covariates and the arm).
MOMENT_KEYS = ["decision", "stall_reason", "stage", "returning_shopper"]


def moments(interventions: Any, *keys: str) -> Any:
    """The randomised interventions grouped by ``keys`` and ``MOMENT_KEYS`` with CUPED's
    sums (``AnalyticsMoment``): the rollups' rows (by day) and the report's reference
    from the raw rows (no day)."""
    value = Ln(Cast("cart_value", FloatField()) + 1.0)
    return (
        interventions.filter(decision__in=[Decision.INVITED, Decision.HELD_OUT])
        .annotate(v=value)
        .values(*keys, *MOMENT_KEYS)
        .annotate(
            n=Count("id"),
            converted_n=Count("id", filter=Q(converted=True)),
            value_sum=Sum("v"),
            value_sq_sum=Sum(F("v") * F("v")),
            value_converted_sum=Sum("v", filter=Q(converted=True), default=0.0),
        )
    )


def _repeats(interventions: Any, tz: tzinfo) -> Iterator[dict[str, Any]]:
    """Per local day, the interventions whose cart had an earlier one (by decision time,
    then id), by the local day of that previous intervention."""
    previous = (
        Intervention.objects.filter(cart_id=OuterRef("cart_id"))
        .filter(
            Q(decided_at__lt=OuterRef("decided_at"))
            | Q(decided_at=OuterRef("decided_at"), pk__lt=OuterRef("pk"))
        )
        .order_by("-decided_at", "-pk")
        .values("decided_at")[:1]
    )
    yield from (
        interventions.annotate(previous_at=Subquery(previous, output_field=DateTimeField()))
        .filter(previous_at__isnull=False)
        .annotate(
            day=TruncDate("decided_at", tzinfo=tz),
            previous_day=TruncDate("previous_at", tzinfo=tz),
        )
        .values("day", "previous_day")
        .annotate(n=Count("id"))
    )


def _fold(*, site_id: int, day: date) -> None:
    """Replace the change rows of a (site, UTC day) by one row of their summed weight: the
    version is the same for every snapshot (one statement, or one serialised SQLite
    transaction)."""
    table = AnalyticsChange._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH gone AS (DELETE FROM {table} WHERE site_id = %s AND day = %s "  # noqa: S608 - the table name is ours
                f"RETURNING weight) INSERT INTO {table} (site_id, day, weight) "
                "SELECT %s, %s, SUM(weight) FROM gone HAVING COUNT(*) > 0",
                [site_id, day, site_id, day],
            )
        return
    with transaction.atomic():
        rows = AnalyticsChange.objects.filter(site_id=site_id, day=day)
        weight = rows.aggregate(total=Sum("weight"))["total"]
        if weight:
            rows.delete()
            AnalyticsChange.objects.create(site_id=site_id, day=day, weight=weight)


@dataclass(frozen=True)
class BuildResult:
    sites: int
    zones: int
    recomputed_days: int


def analytics_rollups_build(*, site_ids: list[int] | None = None) -> BuildResult:
    """Compute every stale day of every site, in UTC and in the site's time zone (the two
    zones the analytics page asks for): the backfill after the migration or a restore."""
    sites = Site.objects.order_by("pk")
    if site_ids is not None:
        sites = sites.filter(pk__in=site_ids)
    zones = recomputed = 0
    for site in sites:
        span = Intervention.objects.filter(site=site).aggregate(
            first=Min("decided_at"), last=Max("decided_at")
        )
        if span["first"] is None:
            continue
        for tz in _zones(site):
            result = analytics_rollups_refresh(
                site_ids=[site.pk],
                tz=tz,
                date_from=span["first"].astimezone(tz).date(),
                date_to=span["last"].astimezone(tz).date(),
            )
            zones += 1
            recomputed += result.recomputed_days
    return BuildResult(sites=sites.count(), zones=zones, recomputed_days=recomputed)


def _zones(site: Site) -> list[tzinfo]:
    local = zoneinfo.ZoneInfo(site.timezone)
    return [UTC] if zone_key(local) == zone_key(UTC) else [UTC, local]
