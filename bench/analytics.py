"""Analytics cost against the number of interventions: ``python -m bench.analytics``.

Runs in a child process with the bench environment (a throw-away PostgreSQL database),
in-process through ``django.setup()``:

1. three sites (two EUR in different time zones, one USD), three agents and a policy per
   site, through the ORM;
2. for each size, empty the tables and bulk-load that many carts and interventions
   with one ``INSERT … SELECT generate_series`` each, in time order (as the sweep
   appends them), with fixed-seed random outcomes (below), plus a follow-up contact per
   intervention that has one; then VACUUM ANALYZE;
3. build the daily rollups as production does after the migration
   (``analytics_rollups_build``, the ``manage.py analytics_rollups`` command), timed;
4. for each filter (all sites 90 days, one site 30 days, …) run ``analytics_compute``
   once untimed, counting its queries and timing each; then time it ``--repeat`` times;
   for the first two also today's query path (``rollups=False``, the floor to compare)
   and check that both give the same report;
5. a page view right after a write to today (one outcome changed): today's rollups of
   the site are recomputed, then read.

The distributions: decided over the last 90 days; 25 % suppressed (four reasons), of the
rest 10 % held out; stall reasons 40 % shipping shock, 20 % payment failed, 10 % coupon
rejected, 30 % idle; invitations 25 % accepted, 30 % dismissed, 30 % ignored, 5 % no
answer, 8 % never shown, 2 % pending; conversion 45 % after an accepted chat, 18 %
otherwise when invited, 15 % held out; half of the accepted chats get a remedy (5.00,
redeemed when the cart converts); first response exponential with mean 30 s; follow-up
contacts after 12 % of invitations and 5 % of holdouts.

Prints one JSON object per line; the last line is the summary the runner reads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import django

DAYS = 90


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    django.setup()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    print(json.dumps(run(sizes, args.repeat)))


def run(sizes: list[int], repeat: int) -> dict[str, Any]:
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("bench.analytics loads data with generate_series: PostgreSQL only")
    from cartassist.models import Intervention
    from cartassist.outcomes.services.analytics_rollups import analytics_rollups_build

    now = datetime.now(UTC).replace(microsecond=0)
    world = _world()
    rows: list[dict[str, Any]] = []
    for size in sizes:
        started = time.perf_counter()
        _truncate()
        _bulk_load(world, start=0, stop=size, now=now)
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        _vacuum_analyze()
        vacuum_s = time.perf_counter() - started
        # The rollups as production gets them after the migration: the backfill command's
        # service, every day of every site in UTC and in the site's zone.
        started = time.perf_counter()
        build = analytics_rollups_build()
        build_s = time.perf_counter() - started
        _vacuum_analyze(rollups=True)
        total = Intervention.objects.count()
        for case, kwargs in _cases(world, now).items():
            reference = case in REFERENCE_CASES
            row = _time_case(case, kwargs, repeat, reference=reference)
            row.update(
                {
                    "interventions": total,
                    "load_s": round(load_s, 1),
                    "vacuum_s": round(vacuum_s, 1),
                    "build_s": round(build_s, 1),
                    "build_days": build.recomputed_days,
                }
            )
            rows.append(row)
            print(json.dumps(row), flush=True)
        # A page view right after a write to today (an outcome refreshed): today's
        # rollups of the site are recomputed first, then read.
        row = _time_after_change(world, now, repeat)
        row.update({"interventions": total})
        rows.append(row)
        print(json.dumps(row), flush=True)
    return {"rows": rows}


# Today's query path (rollups=False) is timed too for these, as the floor to compare.
REFERENCE_CASES = {"all sites, 90 days", "one site, 30 days"}


def _cases(world: dict[str, Any], now: datetime) -> dict[str, dict[str, Any]]:
    today = now.date()
    local = world["tzs"][0]
    local_today = now.astimezone(local).date()
    return {
        "all sites, 90 days": {
            "site_ids": None,
            "date_from": today - timedelta(days=DAYS),
            "date_to": today,
            "tz": UTC,
        },
        "one site, 30 days": {
            "site_ids": [world["sites"][0]],
            "date_from": local_today - timedelta(days=29),
            "date_to": local_today,
            "tz": local,
        },
        "one site, 90 days": {
            "site_ids": [world["sites"][0]],
            "date_from": local_today - timedelta(days=DAYS),
            "date_to": local_today,
            "tz": local,
        },
        "two sites, 7 days": {
            "site_ids": world["sites"][:2],
            "date_from": today - timedelta(days=6),
            "date_to": today,
            "tz": UTC,
        },
        "one site, yesterday": {
            "site_ids": [world["sites"][2]],
            "date_from": now.astimezone(world["tzs"][2]).date() - timedelta(days=1),
            "date_to": now.astimezone(world["tzs"][2]).date() - timedelta(days=1),
            "tz": world["tzs"][2],
        },
    }


def _time_case(
    case: str, kwargs: dict[str, Any], repeat: int, *, reference: bool
) -> dict[str, Any]:
    from django.db import connection

    from cartassist.outcomes.services.analytics import analytics_compute

    timer = _QueryTimer()
    with connection.execute_wrapper(timer):
        report = analytics_compute(**kwargs)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        analytics_compute(**kwargs)
        timings.append(time.perf_counter() - started)
    slowest = sorted(timer.queries, key=lambda q: -q[1])[:3]
    row: dict[str, Any] = {
        "case": case,
        "selected": report.totals.interventions,
        "compute_ms_median": round(statistics.median(timings) * 1000, 1),
        "compute_ms_min": round(min(timings) * 1000, 1),
        "queries": len(timer.queries),
        "slowest_queries_ms": [[label, round(ms, 1)] for label, ms in slowest],
        "repeat": repeat,
        "uplift": [report.conversion.uplift, report.conversion.uplift_low,
                   report.conversion.uplift_high],
        "reference_ms_median": None,
        "identical": None,
    }  # fmt: skip
    if reference:
        timings = []
        for _ in range(max(1, repeat // 2)):
            started = time.perf_counter()
            raw = analytics_compute(**kwargs, rollups=False)
            timings.append(time.perf_counter() - started)
        row["reference_ms_median"] = round(statistics.median(timings) * 1000, 1)
        row["identical"] = _same(report, raw)
    return row


def _time_after_change(world: dict[str, Any], now: datetime, repeat: int) -> dict[str, Any]:
    """Each repeat: one outcome of today written (converted flips), then the site's
    last 30 days read; the write marks today changed, so today is recomputed."""
    from django.db import transaction

    from cartassist.models import Intervention
    from cartassist.outcomes.services.analytics import analytics_compute

    kwargs = _cases(world, now)["one site, 30 days"]
    day_start = datetime.combine(kwargs["date_to"], datetime.min.time(), tzinfo=kwargs["tz"])
    target = (
        Intervention.objects.filter(site_id=world["sites"][0], decided_at__gte=day_start)
        .order_by("-decided_at")
        .values_list("pk", "converted")[0]
    )
    timings = []
    converted = target[1]
    for _ in range(repeat):
        converted = not converted
        with transaction.atomic():
            Intervention.objects.filter(pk=target[0]).update(converted=converted)
        started = time.perf_counter()
        report = analytics_compute(**kwargs)
        timings.append(time.perf_counter() - started)
    raw = analytics_compute(**kwargs, rollups=False)
    return {
        "case": "one site, 30 days, after a write today",
        "selected": report.totals.interventions,
        "compute_ms_median": round(statistics.median(timings) * 1000, 1),
        "compute_ms_min": round(min(timings) * 1000, 1),
        "queries": None,
        "slowest_queries_ms": [],
        "repeat": repeat,
        "reference_ms_median": None,
        "identical": _same(report, raw),
    }


def _same(from_rollups: Any, from_rows: Any) -> bool:
    """Every figure equal (the percentiles' method is named differently; the mean of the
    response times may differ in the last bits: floats added in another order)."""
    import dataclasses
    import math

    rows_times, times = from_rows.response_times, from_rollups.response_times
    if (rows_times.mean_seconds is None) != (times.mean_seconds is None):
        return False
    if rows_times.mean_seconds is not None and not math.isclose(
        times.mean_seconds, rows_times.mean_seconds, rel_tol=1e-12
    ):
        return False
    times = dataclasses.replace(
        times, method=rows_times.method, mean_seconds=rows_times.mean_seconds
    )
    return bool(dataclasses.replace(from_rollups, response_times=times) == from_rows)


class _QueryTimer:
    """A database execute wrapper: each query's first words and its milliseconds."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, float]] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            label = _describe(sql)
            self.queries.append((label, (time.perf_counter() - started) * 1000))


def _describe(sql: str) -> str:
    for table, label in [
        ("cartassist_analyticschange", "versions"),
        ("cartassist_analyticsday", "computed days"),
        ("cartassist_analyticsrepeat", "repeated carts (rollup)"),
        ("cartassist_analyticscontact", "follow-up contacts (rollup)"),
        ("cartassist_analyticsgroup", "groups (rollup)"),
    ]:
        if table in sql:
            return label
    if "PERCENTILE_CONT" in sql:
        return "response-time percentiles"
    if "cartassist_followupcontact" in sql:
        return "follow-up contacts"
    if "COUNT(DISTINCT" in sql:
        return "distinct carts"
    if "AT TIME ZONE" in sql and "GROUP BY" in sql:
        return "daily series"
    head = sql.split("FROM")[0]
    if '"remedy_kind"' in head and '"agent_id"' in head:
        return "policy, remedy, agent"
    if '"suppression_reason"' in head:
        return "main groups"
    if "policies_policy" in sql:
        return "policy names"
    if "agents_agentprofile" in sql:
        return "agent names"
    if "cartassist_site" in sql:
        return "site names"
    return sql[:40]


def _world() -> dict[str, Any]:
    import zoneinfo

    from django.contrib.auth.models import User

    from agents.models import AgentProfile
    from cartassist.models import Site
    from policies.models import Policy

    specs = [("Bench EU", "EUR", "Europe/Berlin"), ("Bench UK", "EUR", "Europe/London"),
             ("Bench US", "USD", "America/New_York")]  # fmt: skip
    sites, agents, policies, tzs, currencies = [], [], [], [], []
    for name, currency, tz in specs:
        site = Site.objects.create(
            name=name, currency=currency, timezone=tz, allowed_origins=["https://b.test"]
        )
        sites.append(site.pk)
        tzs.append(zoneinfo.ZoneInfo(tz))
        currencies.append(currency)
        for n in range(3):
            user = User.objects.create(username=f"bench-{site.pk}-{n}")
            agents.append(
                AgentProfile.objects.create(user=user, site=site, display_name=f"Agent {n}").pk
            )
        policies.append(
            Policy.objects.create(site=site, name=f"{name} rescue", waive_delivery=True).pk
        )
    return {
        "sites": sites,
        "agents": agents,
        "policies": policies,
        "tzs": tzs,
        "currencies": currencies,
    }


def _array(values: list[Any]) -> str:
    return "ARRAY[" + ", ".join(str(int(v)) for v in values) + "]"


def _insert_select(model: Any, expressions: dict[str, str], source: str, params: dict) -> None:
    """``INSERT INTO model (every column) SELECT expressions FROM source``; the columns
    without an expression get the model's default, so the loader follows the model."""
    from django.db import connection, transaction

    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in expressions:
            values.append(expressions[field.column])
        else:
            default = field.get_default() if field.has_default() else None
            params[f"d_{field.column}"] = field.get_db_prep_save(default, connection)
            values.append(f"%(d_{field.column})s")
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM {source}"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [0.25 + (params["start"] % 1000) / 4000])
        cursor.execute(sql, params)


def _bulk_load(world: dict[str, Any], *, start: int, stop: int, now: datetime) -> None:
    """Carts and interventions ``start`` … ``stop - 1``, and their follow-up contacts."""
    from cartassist.models import Cart, FollowUpContact, Intervention

    if stop <= start:
        return
    sites, currencies = _array(world["sites"]), world["currencies"]
    currency = f"(ARRAY['{currencies[0]}', '{currencies[1]}', '{currencies[2]}'])[1 + g %% 3]"
    params: dict[str, Any] = {"start": start, "stop": stop, "now": now}
    _insert_select(
        Cart,
        {
            "site_id": f"({sites})[1 + g %% 3]",
            "external_id": "'bench-' || g",
            "visitor_id": "'visitor-' || g",
            "currency": currency,
            "subtotal": "20 + (g * 37) %% 480 + (g %% 100) / 100.0",
            "stage": "(ARRAY['cart', 'contact', 'shipping', 'payment'])[1 + g %% 4]",
            "status": "'stalled'",
            "created_at": "%(now)s",
            "state_at": "%(now)s",
            "last_activity_at": "%(now)s",
        },
        "generate_series(%(start)s, %(stop)s - 1) AS g",
        params,
    )
    # One row of random draws per cart: r1 time, r2 decision, r3 reason / result, r4 stall
    # reason, r5 conversion, r6 response time, r7 remedy, r8 follow-up.
    draws = (
        "(SELECT c.id AS cart_id, c.site_id, c.visitor_id, c.subtotal, c.currency, c.stage, "
        "substring(c.external_id from 7)::int AS g, "
        "random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5, "
        "random() AS r6, random() AS r7, random() AS r8 "
        "FROM cartassist_cart c WHERE c.external_id LIKE 'bench-%%' "
        "AND substring(c.external_id from 7)::int >= %(start)s "
        "AND substring(c.external_id from 7)::int < %(stop)s) AS d, "
        "LATERAL (SELECT CASE WHEN r2 < 0.25 THEN 'suppressed' WHEN r2 < 0.325 THEN 'held_out' "
        "ELSE 'invited' END AS decision) AS x, "
        "LATERAL (SELECT CASE WHEN x.decision <> 'invited' THEN '' WHEN r3 < 0.25 THEN 'accepted' "
        "WHEN r3 < 0.55 THEN 'dismissed' WHEN r3 < 0.85 THEN 'ignored' WHEN r3 < 0.90 THEN "
        "'delivered' WHEN r3 < 0.98 THEN 'undelivered' ELSE 'pending' END AS result) AS i, "
        "LATERAL (SELECT (x.decision = 'invited' AND ((i.result = 'accepted' AND r5 < 0.45) OR "
        "(i.result <> 'accepted' AND r5 < 0.18))) OR (x.decision = 'held_out' AND r5 < 0.15) "
        "AS converted, (i.result = 'accepted' AND r7 < 0.5) AS remedied) AS o"
    )
    agents = _array(world["agents"])
    policies = _array(world["policies"])
    site_index = "array_position(" + sites + ", d.site_id)"
    # In time order, as the sweep appends them: the table's physical order follows
    # decided_at (within a few minutes), like in production.
    decided_at = f"%(now)s - (1 - (g + r1) / %(stop)s) * interval '{DAYS} days'"
    redeemed = "(o.remedied AND o.converted)"
    revenue = "CASE WHEN o.converted THEN d.subtotal + 4.90 ELSE 0 END"
    _insert_select(
        Intervention,
        {
            "site_id": "d.site_id",
            "cart_id": "d.cart_id",
            "visitor_id": "d.visitor_id",
            "stall_deadline": f"{decided_at} - interval '1 minute'",
            "stage": "d.stage",
            "stall_reason": "CASE WHEN r4 < 0.4 THEN 'shipping_shock' WHEN r4 < 0.6 THEN "
            "'payment_failed' WHEN r4 < 0.7 THEN 'coupon_rejected' ELSE 'idle' END",
            "urgency": "(g * 7) %% 101",
            "inactivity": "interval '10 minutes'",
            "cart_value": "d.subtotal",
            "currency": "d.currency",
            "decision": "x.decision",
            # One visitor per cart: each is a shopper of their own, in the arm decided.
            "arm": "CASE WHEN x.decision = 'held_out' THEN 'holdout' ELSE 'outreach' END",
            "suppression_reason": "CASE WHEN x.decision <> 'suppressed' THEN '' "
            "ELSE (ARRAY['opted_out', 'frequency_cap', 'quiet_hours', "
            "'no_agent_available'])[1 + floor(r3 * 4)::int] END",
            "decided_at": decided_at,
            "invitation_result": "i.result",
            "agent_id": f"CASE WHEN i.result = 'accepted' THEN ({agents})"
            f"[({site_index} - 1) * 3 + 1 + g %% 3] END",
            "first_response_seconds": "CASE WHEN i.result = 'accepted' THEN -ln(1 - r6) * 30 END",
            "chat_duration_seconds": "CASE WHEN i.result = 'accepted' THEN 60 + r6 * 600 END",
            "visitor_messages": "CASE WHEN i.result = 'accepted' THEN 1 + g %% 6 ELSE 0 END",
            "agent_messages": "CASE WHEN i.result = 'accepted' THEN 1 + g %% 5 ELSE 0 END",
            "offers_made": "CASE WHEN o.remedied THEN 1 ELSE 0 END",
            "offer_accepted": "o.remedied",
            "remedy_kind": "CASE WHEN o.remedied THEN (ARRAY['waive_delivery', "
            "'reduce_delivery', 'discount'])[1 + g %% 3] ELSE '' END",
            "policy_id": f"CASE WHEN o.remedied THEN ({policies})[{site_index}] END",
            "granted_amount": "CASE WHEN o.remedied THEN 5 ELSE 0 END",
            "remedy_cost": f"CASE WHEN {redeemed} THEN 5 ELSE 0 END",
            "converted": "o.converted",
            "converted_at": f"CASE WHEN o.converted THEN {decided_at} + interval '20 minutes' END",
            "order_id": "CASE WHEN o.converted THEN 'order-' || g ELSE '' END",
            "attribution": "CASE WHEN o.converted THEN 'same_cart' ELSE '' END",
            "revenue": revenue,
            "net_revenue": f"{revenue} - CASE WHEN {redeemed} THEN 5 ELSE 0 END",
            "follow_ups": "CASE WHEN (x.decision = 'invited' AND r8 < 0.12) OR "
            "(x.decision = 'held_out' AND r8 < 0.05) THEN 1 ELSE 0 END",
            "outcome_final": "true",
            "outcome_updated_at": "%(now)s",
        },
        draws,
        params,
    )
    _insert_select(
        FollowUpContact,
        {
            "site_id": "n.site_id",
            "key": "'bench-' || n.id",
            "source": "'helpdesk'",
            "channel": "(ARRAY['email', 'phone', 'chat', 'social', 'other'])[1 + n.id %% 5]",
            "reason": "(ARRAY['needed_confirmation', 'checking_genuine', 'unresolved', "
            "'other'])[1 + n.id %% 4]",
            "visitor_id": "n.visitor_id",
            "occurred_at": "n.decided_at + interval '2 hours'",
            "received_at": "n.decided_at + interval '2 hours'",
            "intervention_id": "n.id",
        },
        "cartassist_intervention n JOIN cartassist_cart c ON c.id = n.cart_id "
        "WHERE n.follow_ups > 0 AND substring(c.external_id from 7)::int >= %(start)s "
        "AND substring(c.external_id from 7)::int < %(stop)s",
        params,
    )


def _truncate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE cartassist_followupcontact, cartassist_intervention, cartassist_cart, "
            "cartassist_analyticschange, cartassist_analyticsday, cartassist_analyticsgroup, "
            "cartassist_analyticsrepeat, cartassist_analyticscontact CASCADE"
        )


def _vacuum_analyze(*, rollups: bool = False) -> None:
    from django.db import connection

    tables = ["cartassist_cart", "cartassist_intervention", "cartassist_followupcontact"]
    if rollups:
        tables = ["cartassist_analyticschange", "cartassist_analyticsday",
                  "cartassist_analyticsgroup", "cartassist_analyticsrepeat",
                  "cartassist_analyticscontact"]  # fmt: skip
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")


if __name__ == "__main__":
    main()
