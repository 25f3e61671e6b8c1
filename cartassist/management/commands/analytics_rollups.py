"""``manage.py analytics_rollups``: compute the analytics' daily rollups of every day
that has none or changed since (docs/ANALYTICS.md, "Cost"; ADR 0019). Run it once after
the migration that adds them, or after a restore; the page also computes a missing or
changed day when it reads it, so this only moves that work ahead of the first view."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cartassist.outcomes.services.analytics_rollups import analytics_rollups_build


class Command(BaseCommand):
    help = (
        "Compute the analytics' daily rollups (UTC and each site's time zone) of every day "
        "that has none or changed since. Safe to run at any time, and again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--site", type=int, action="append", dest="sites", help="a site id (repeatable)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        result = analytics_rollups_build(site_ids=options["sites"])
        self.stdout.write(
            f"{result.recomputed_days} days recomputed over {result.zones} site time zones "
            f"of {result.sites} sites in {time.perf_counter() - started:.1f} s"
        )
