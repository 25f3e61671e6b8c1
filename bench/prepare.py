"""Database chores for the bench runner, run in a child process with the bench
environment: ``python -m bench.prepare migrate|site|count``. Prints one JSON line."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from decimal import Decimal

import django

BENCH_ORIGIN = "https://shop.bench.test"


def main(command: str) -> dict[str, object]:
    django.setup()
    from django.core.management import call_command

    from cartassist.models import Cart, CartEvent, Site, Stage, StallRule

    if command == "migrate":
        call_command("migrate", verbosity=0, interactive=False)
        return {"migrated": True}
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
        return {"events": CartEvent.objects.count(), "carts": Cart.objects.count()}
    raise SystemExit(f"unknown command {command!r}")


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
    for size in (1, 50):
        batch = events(size, timezone.now().isoformat().replace("+00:00", "Z"))
        for event in batch:
            event["id"] = f"q{size}-{event['id']}"
            event["cart_id"] = f"q{size}-{event['cart_id']}"
        body = json.dumps({"site_key": site["public_key"], "events": batch})
        with CaptureQueriesContext(connection) as captured:
            response = client.post(
                "/api/v1/widget/events", body, content_type="text/plain", HTTP_ORIGIN=site["origin"]
            )
        if response.status_code != 200:
            raise SystemExit(f"widget request refused: {response.status_code} {response.content!r}")
        counts[str(size)] = len(captured)
    return counts


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
