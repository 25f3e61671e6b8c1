"""Daily rollups under concurrency (PostgreSQL): recomputations of the same day race
each other and the writers; afterwards the report from the rollups still equals the
report from the rows (ADR 0019)."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from cartassist.models import AnalyticsDay, Intervention
from cartassist.outcomes.services.analytics import analytics_compute
from cartassist.outcomes.services.analytics_rollups import analytics_rollups_refresh
from tests.cartassist.test_analytics_rollups import assert_same, random_intervention
from tests.fixtures.agents import make_stalled_cart
from tests.fixtures.sites import make_site

pytestmark = [pytest.mark.postgres]

DAY = datetime(2025, 3, 10, tzinfo=UTC)


def test_racing_recomputations_and_writers_leave_exact_rollups(transactional_db):
    assert connection.vendor == "postgresql"
    rng = random.Random(7)
    site = make_site(timezone="UTC")
    carts = [make_stalled_cart(site, external_id=f"c{n}", now=DAY) for n in range(40)]
    Intervention.objects.bulk_create(
        random_intervention(rng, cart, DAY + timedelta(seconds=rng.randrange(86400)), k, [], [])
        for k in range(3)
        for cart in carts
    )
    ids = list(Intervention.objects.values_list("pk", flat=True))
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def run(work) -> None:
        try:
            start.wait()
            work()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    def refresh() -> None:
        for _ in range(5):
            analytics_rollups_refresh(
                site_ids=[site.pk], tz=UTC, date_from=DAY.date(), date_to=DAY.date()
            )

    def write() -> None:
        for n in range(30):
            Intervention.objects.filter(pk=ids[n]).update(
                converted=True, revenue=Decimal(n), net_revenue=Decimal(n)
            )

    threads = [threading.Thread(target=run, args=(w,)) for w in [refresh, refresh, refresh, write]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    if errors:
        raise errors[0]
    values = {"site_ids": [site.pk], "date_from": DAY.date(), "date_to": DAY.date(), "tz": UTC}
    from_rollups = analytics_compute(**values)
    from_rows = analytics_compute(**values, rollups=False)
    assert_same(from_rollups, from_rows, values)
    assert (
        from_rollups.conversion.invited_successes + from_rollups.conversion.held_out_successes >= 1
    )
    assert AnalyticsDay.objects.filter(site=site, zone="UTC", day=DAY.date()).count() == 1
