"""Database chores for the bench runner, run in a child process with the bench
environment: ``python -m bench.prepare migrate|site|analyze|count|queries`` and
``python -m bench.prepare steady <public key> <carts>``. Prints one JSON line."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from decimal import Decimal

import django

BENCH_ORIGIN = "https://shop.bench.test"
# The carts of the steady-state traffic: bench/wrk/events.lua's cart ids with this prefix.
STEADY_PREFIX = "steady"


def main(command: str, *args: str) -> dict[str, object]:
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.urls import BENCH_INSERT_DDL
    from cartassist.models import Cart, CartEvent, Site, Stage, StallRule

    if command == "migrate":
        call_command("migrate", verbosity=0, interactive=False)
        with connection.cursor() as cursor:  # the bare-insert floor's table
            cursor.execute(BENCH_INSERT_DDL[connection.vendor])
        return {"migrated": True}
    if command == "analyze":
        # Table statistics, as a production database has them (autovacuum keeps them):
        # a fresh database's say "empty" until autovacuum's first pass, a minute in, and
        # the planner then scans a site's every cart to find a batch's ten.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        return {"analyzed": True}
    if command == "steady":
        return _steady_carts(public_key=args[0], carts=int(args[1]))
    if command == "site":
        site = Site.objects.create(
            name="Bench shop",
            allowed_origins=[BENCH_ORIGIN],
            currency="EUR",
            timezone="Europe/Berlin",
            holdout_share=Decimal("0.100"),
        )
        thresholds = {
            Stage.CART: timedelta(minutes=30),
            Stage.CONTACT: timedelta(minutes=10),
            Stage.SHIPPING: timedelta(minutes=5),
            Stage.PAYMENT: timedelta(minutes=5),
        }
        for stage, threshold in thresholds.items():
            StallRule.objects.create(site=site, stage=stage, inactivity_threshold=threshold)
        return {"public_key": site.public_key, "secret": site.secret, "origin": BENCH_ORIGIN}
    if command == "queries":
        return _queries_per_request()
    if command == "count":
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM bench_insert")
            (floor_rows,) = cursor.fetchone()
        return {
            "events": CartEvent.objects.count(),
            "carts": Cart.objects.count(),
            "bench_insert_rows": floor_rows,
        }
    raise SystemExit(f"unknown command {command!r}")


def _steady_carts(*, public_key: str, carts: int) -> dict[str, object]:
    """Create the steady-state traffic's carts (``c<STEADY_PREFIX>-1`` …, as the wrk
    script names them), each with a first ``cart_updated`` event, through the ingest
    service: afterwards the steady traffic's events are for carts that exist."""
    from django.utils import timezone

    from bench.validation import JOURNEY
    from cartassist.api.serializers import validate_events
    from cartassist.carts.services.ingest import cart_events_ingest
    from cartassist.models import EventSource, Site

    site = Site.objects.get(public_key=public_key)
    kind, data = JOURNEY[0]
    now = timezone.now()
    occurred_at = now.isoformat().replace("+00:00", "Z")
    for start in range(1, carts + 1, 50):
        batch = [
            {
                "id": f"seed-{n}",
                "type": kind,
                "occurred_at": occurred_at,
                "cart_id": f"c{STEADY_PREFIX}-{n}",
                "visitor_id": f"v{STEADY_PREFIX}-{n}",
                "data": data,
            }
            for n in range(start, min(start + 50, carts + 1))
        ]
        events = validate_events(batch, site=site, trusted=False, now=now)
        cart_events_ingest(site=site, events=events, source=EventSource.WIDGET, now=now)
    return {"steady_carts": carts}


def _queries_per_request() -> dict[str, object]:
    """Database queries of one widget request: a single event, and a batch of 50 events
    over 10 carts (the wrk script's shapes), through the real stack (Django's test
    client) on a fresh site."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from bench.validation import events

    site = main("site")
    client = Client(HTTP_HOST="127.0.0.1")
    counts: dict[str, object] = {}
    # First events (new carts), then the same carts again (steady state: "<size>-steady").
    for size, again in ((1, ""), (50, ""), (1, "-steady"), (50, "-steady")):
        batch = events(size, timezone.now().isoformat().replace("+00:00", "Z"))
        for event in batch:
            event["id"] = f"q{size}{again}-{event['id']}"
            event["cart_id"] = f"q{size}-{event['cart_id']}"
        body = json.dumps({"site_key": site["public_key"], "events": batch})
        with CaptureQueriesContext(connection) as captured:
            response = client.post(
                "/api/v1/widget/events", body, content_type="text/plain", HTTP_ORIGIN=site["origin"]
            )
        if response.status_code != 200:
            raise SystemExit(f"widget request refused: {response.status_code} {response.content!r}")
        counts[f"{size}{again}"] = len(captured)
    return counts


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], *sys.argv[2:])))
