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
    if command == "count":
        return {"events": CartEvent.objects.count(), "carts": Cart.objects.count()}
    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
