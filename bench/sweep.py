"""Sweep cost against the number of carts: ``python -m bench.sweep --sizes ...``.

Runs in a child process with the bench environment (a throw-away database), in-process
through ``django.setup()``:

1. one site and its stall rules through the ORM, and ``--stalled`` carts whose deadline
   has passed (ORM ``bulk_create``, mixed stages and stall signals);
2. for each size, bulk-load carts up to that total with one ``INSERT … SELECT`` (half
   with a deadline a day or more ahead, half converted with no deadline), then ANALYZE;
3. run the sweep once untimed, counting its queries, then time
   ``stall_sweep(now=…, batch_size=…)`` ``--repeat`` times, putting the stalled
   carts back (deadline, status; interventions, invitations and visitors deleted) before
   each run, and once more with nothing due (the idle sweep the scheduler runs most of
   the time). Modes: "invite": agents available, so about 90 % of the carts are invited
   (10 % holdout) and each invitation is created and pushed over the channel layer;
   "invite-no-push": the same without a channel layer, to separate the push's cost;
   "suppress": no agent available, so every cart is decided and recorded as suppressed
   and no invitation is created (claim + decide + record alone); "invite-paced": as
   "invite-no-push" on a site with helpdesk pacing on and room for every invitation
   (the cost of pacing: its grouped query and each cart's check; ADR 0024);
4. on PostgreSQL, EXPLAIN ANALYZE the claim query the sweep ran, at the largest size.

Prints one JSON object per line; the last line is the summary the runner reads.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--stalled", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--modes", default="invite,invite-no-push,suppress")
    args = parser.parse_args()
    django.setup()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    modes = args.modes.split(",")
    print(json.dumps(run(sizes, modes, args.stalled, args.repeat, args.batch_size)))


def run(
    sizes: list[int], modes: list[str], stalled: int, repeat: int, batch_size: int
) -> dict[str, Any]:
    from django.db import connection
    from django.utils import timezone

    from cartassist.flows.sweep import stall_sweep
    from cartassist.models import Cart, HelpdeskCapacity, Intervention, Site, Visitor

    now = timezone.now().replace(microsecond=0)
    site = _site()
    originals = _stalled_carts(site, stalled, now)
    loaded = Cart.objects.count()
    rows: list[dict[str, Any]] = []
    explain, claim = "", ("", ())
    for size in sizes:
        started = time.perf_counter()
        _bulk_load(site.pk, start=loaded, stop=size, now=now)
        load_s = time.perf_counter() - started
        loaded = max(loaded, size)
        _analyze()
        for mode in modes:
            # Invite modes: the site's switch on and an agent online in the console
            # (the default availability check); suppress mode: the switch off.
            Site.objects.filter(pk=site.pk).update(agents_available=mode != "suppress")
            _agent_online(site)
            HelpdeskCapacity.objects.filter(site=site).delete()
            if mode == "invite-paced":
                HelpdeskCapacity.objects.create(
                    site=site, pacing_enabled=True, hourly=[[100_000] * 24 for _ in range(7)]
                )
            with _channel_layer(enabled=mode not in {"invite-no-push", "invite-paced"}):
                # A first, untimed run counts the queries and keeps the claim query.
                _reset(originals, now)
                counter = _QueryCounter()
                with connection.execute_wrapper(counter):
                    result = stall_sweep(now=now, batch_size=batch_size)
                queries, decisions = counter.count, result.decisions
                if connection.vendor == "postgresql":
                    claim = counter.claim()
                timings = []
                for _ in range(repeat):
                    _reset(originals, now)
                    started = time.perf_counter()
                    result = stall_sweep(now=now, batch_size=batch_size)
                    timings.append(time.perf_counter() - started)
                    if result.claimed != stalled:
                        raise SystemExit(f"sweep claimed {result.claimed}, expected {stalled}")
                started = time.perf_counter()
                idle = stall_sweep(now=now, batch_size=batch_size)
                idle_s = time.perf_counter() - started
            if idle.claimed:
                raise SystemExit(f"idle sweep claimed {idle.claimed}")
            median = statistics.median(timings)
            row = {
                "database": connection.vendor,
                "mode": mode,
                "total_carts": Cart.objects.count(),
                "pending_carts": Cart.objects.filter(stall_deadline__isnull=False).count(),
                "stalled": stalled,
                "load_s": round(load_s, 2),
                "sweep_ms_median": round(median * 1000, 1),
                "sweep_ms_min": round(min(timings) * 1000, 1),
                "ms_per_stalled_cart": round(median * 1000 / stalled, 3),
                "queries_per_sweep": queries,
                "idle_sweep_ms": round(idle_s * 1000, 2),
                "decisions": {str(k): v for k, v in sorted(decisions.items())},
                "repeat": repeat,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    if connection.vendor == "postgresql":
        _reset(originals, now)
        explain = _explain(*claim)
    Intervention.objects.all().delete()
    Visitor.objects.all().delete()
    return {"rows": rows, "explain": explain}


@contextmanager
def _channel_layer(*, enabled: bool) -> Iterator[None]:
    """With ``enabled`` off, invitations are created but not pushed: no channel layer."""
    if enabled:
        yield
        return
    with mock.patch("agents.realtime.get_channel_layer", return_value=None):
        yield


def _agent_online(site: Any) -> None:
    from django.contrib.auth.models import User
    from django.utils import timezone

    from agents.models import AgentProfile, AgentStatus

    user, _ = User.objects.get_or_create(username="bench-agent")
    AgentProfile.objects.update_or_create(
        user=user,
        defaults={
            "site": site,
            "display_name": "Bench Agent",
            "status": AgentStatus.ONLINE,
            "last_heartbeat_at": timezone.now() + timedelta(hours=1),
        },
    )


def _site() -> Any:
    from cartassist.models import Site, Stage, StallRule

    site = Site.objects.create(
        name="Sweep bench",
        allowed_origins=["https://shop.bench.test"],
        holdout_share=Decimal("0.100"),
    )
    for stage in Stage.values:
        StallRule.objects.create(site=site, stage=stage, inactivity_threshold=timedelta(minutes=5))
    return site


def _stalled_carts(site: Any, count: int, now: datetime) -> dict[int, datetime]:
    """``count`` carts past their deadline, with every stall reason represented."""
    from cartassist.models import Cart, Stage, StallSignal

    signals = [
        (StallSignal.SHIPPING_QUOTED, Decimal("14.90")),  # shipping shock on small carts
        (StallSignal.PAYMENT_FAILED, None),
        (StallSignal.COUPON_REJECTED, None),
        (StallSignal.NONE, None),
    ]
    stages = list(Stage.values)
    carts = []
    for i in range(count):
        signal, fee = signals[i % len(signals)]
        deadline = now - timedelta(minutes=1 + i % 120)
        carts.append(
            Cart(
                site=site,
                external_id=f"stalled-{i}",
                visitor_id=f"stalled-visitor-{i}",
                currency="EUR",
                subtotal=Decimal(20 + (i * 37) % 480),
                shipping_fee=fee,
                stage=stages[i % len(stages)],
                signal=signal,
                state_at=deadline - timedelta(minutes=5),
                last_activity_at=deadline - timedelta(minutes=5),
                stall_deadline=deadline,
            )
        )
    Cart.objects.bulk_create(carts, batch_size=500)
    return {
        pk: deadline
        for pk, deadline in Cart.objects.filter(external_id__startswith="stalled-").values_list(
            "pk", "stall_deadline"
        )
        if deadline is not None
    }


def _reset(originals: dict[int, datetime], now: datetime) -> None:
    from cartassist.models import Cart, CartStatus, Intervention, Visitor

    Intervention.objects.all().delete()
    Visitor.objects.all().delete()
    carts = list(Cart.objects.filter(pk__in=list(originals)).only("pk"))
    for cart in carts:
        cart.stall_deadline = originals[cart.pk]
        cart.status = CartStatus.ACTIVE
    Cart.objects.bulk_update(carts, ["stall_deadline", "status"], batch_size=500)


# The columns that make the bulk-loaded carts varied; every other column gets its model
# default, so the loader follows the Cart model as it grows.
_PG_EXPRESSIONS = {
    "site_id": "%(site)s",
    "external_id": "'cart-' || g",
    "visitor_id": "'visitor-' || g",
    "currency": "'EUR'",
    "subtotal": "10 + g %% 490",
    "stage": "(ARRAY['cart', 'contact', 'shipping', 'payment'])[1 + g %% 4]",
    "status": "CASE WHEN g %% 2 = 0 THEN 'active' ELSE 'converted' END",
    "created_at": "%(now)s",
    "state_at": "%(now)s",
    "last_activity_at": "%(now)s",
    "stall_deadline": "CASE WHEN g %% 2 = 0 "
    "THEN %(now)s + interval '1 day' + (g %% 1440) * interval '1 minute' END",
}
_PG_SERIES = "FROM generate_series(%(start)s, %(stop)s - 1) AS g"

_SQLITE_EXPRESSIONS = {
    **_PG_EXPRESSIONS,
    "stage": "CASE g %% 4 WHEN 0 THEN 'cart' WHEN 1 THEN 'contact' WHEN 2 THEN 'shipping' "
    "ELSE 'payment' END",
    "stall_deadline": "CASE WHEN g %% 2 = 0 THEN strftime('%%Y-%%m-%%d %%H:%%M:%%f', %(now)s, "
    "'+1 day', '+' || (g %% 1440) || ' minutes') END",
}
_SQLITE_SERIES = "FROM (WITH RECURSIVE s(g) AS (SELECT %(start)s UNION ALL SELECT g + 1 FROM s "
_SQLITE_SERIES += "WHERE g + 1 < %(stop)s) SELECT g FROM s)"


def _bulk_load(site_id: int, *, start: int, stop: int, now: datetime) -> None:
    """Carts ``start`` … ``stop - 1`` that are not stalled, in one INSERT … SELECT: every
    other one has a deadline a day or more ahead (in the partial index), the rest are
    converted (NULL deadline)."""
    from django.db import connection, transaction

    from cartassist.models import Cart

    if stop <= start:
        return
    postgres = connection.vendor == "postgresql"
    expressions = _PG_EXPRESSIONS if postgres else _SQLITE_EXPRESSIONS
    params: dict[str, Any] = {"site": site_id, "start": start, "stop": stop, "now": now}
    if not postgres:
        # Django stores datetimes on SQLite as naive UTC text.
        params["now"] = now.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    columns, values = [], []
    for field in Cart._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column or field.name))
        if field.column in expressions:
            values.append(expressions[field.column])
        else:
            default = field.get_default() if field.has_default() else None
            params[f"d_{field.column}"] = field.get_db_prep_save(default, connection)
            values.append(f"%(d_{field.column})s")
    sql = (
        f"INSERT INTO {connection.ops.quote_name(Cart._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} {_PG_SERIES if postgres else _SQLITE_SERIES}"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


_ROW_LOCK = re.compile(r"\bFOR (NO KEY )?UPDATE\b")


class _QueryCounter:
    """A database execute wrapper: counts queries and keeps the first SELECT that locks
    rows (the claim) with its parameters."""

    def __init__(self) -> None:
        self.count = 0
        self._claim: tuple[str, Any] | None = None

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        # The claim locks its carts FOR NO KEY UPDATE (SKIP LOCKED) on PostgreSQL.
        if self._claim is None and sql.startswith("SELECT") and _ROW_LOCK.search(sql):
            self._claim = (sql, params)
        return execute(sql, params, many, context)

    def claim(self) -> tuple[str, Any]:
        if self._claim is None:
            raise SystemExit("the sweep ran no SELECT that locks rows")
        return self._claim


def _explain(sql: str, params: Any) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the claim query in a transaction that is rolled back
    (the query locks rows)."""
    from django.db import connection, transaction

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


if __name__ == "__main__":
    main()
