"""daphne holds at most its pool of PostgreSQL connections, whatever the HTTP load.

Each HTTP request on daphne runs its view on a thread of its own. With persistent
connections each of those threads kept one open after the request: 8 clients for 3 s
left 74 of PostgreSQL's 100 connections idle in one daphne, and the database refused
everyone else. With the pool (docs/OPERATIONS.md, "Database connections") a process never
holds more than DATABASE_POOL_MAX_SIZE.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from cartassist.models import CartEvent
from tests.fixtures.carts import make_event
from tests.fixtures.sites import SHOP_ORIGIN, make_site, make_stall_rules

from .test_production_stack import post

pytestmark = [pytest.mark.production, pytest.mark.postgres, pytest.mark.redis]

POOL_MAX_SIZE = 4
CLIENTS = 8
REQUESTS = 32


def connections_to_test_database() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def test_a_burst_of_requests_leaves_daphne_holding_at_most_its_pool(
    start_process: Any, redis_url: str
) -> None:
    # given: the Procfile's realtime process (daphne) with a pool of 4, and what this test
    # process itself holds
    site = make_site()
    make_stall_rules(site)
    ours = connections_to_test_database()
    _, port = start_process(
        "realtime",
        DATABASE_POOL_MAX_SIZE=str(POOL_MAX_SIZE),
        CARTASSIST_WIDGET_RATE="100000/min",
    )
    headers = {"Content-Type": "text/plain", "Origin": SHOP_ORIGIN}
    bodies = [
        json.dumps(
            {"site_key": site.public_key, "events": [make_event(cart_id=f"cart-{n}")]}
        ).encode()
        for n in range(REQUESTS)
    ]

    # when: 8 clients at once; the connections are counted while they run
    peak = 0
    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = [
            pool.submit(post, port, "/api/v1/widget/events", body, headers) for body in bodies
        ]
        while not all(answer.done() for answer in answers):
            peak = max(peak, connections_to_test_database() - ours)
    held_after = connections_to_test_database() - ours

    # then: every request was served, and daphne never held more than its pool
    assert [answer.result()[0] for answer in answers] == [200] * REQUESTS
    assert CartEvent.objects.count() == REQUESTS
    assert peak <= POOL_MAX_SIZE
    assert 1 <= held_after <= POOL_MAX_SIZE
