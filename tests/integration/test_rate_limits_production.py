"""Rate limits hold across processes: two gunicorn workers share one count in Redis.

DRF's cache throttle read the request history, checked it and wrote it back in three
steps, so two workers admitted more than the limit between them (641 + 633 of 600).
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from cartassist.models import CartEvent
from tests.fixtures.carts import make_event
from tests.fixtures.sites import SHOP_ORIGIN, make_site, make_stall_rules

from .test_production_stack import post

pytestmark = [pytest.mark.production, pytest.mark.postgres, pytest.mark.redis]

LIMIT = 120
REQUESTS = 600
CLIENTS = 16


def test_two_gunicorn_workers_accept_exactly_the_limit_for_one_site_key(
    start_process: Any, redis_url: str
) -> None:
    # given: the Procfile's web process with two workers, 120 widget requests an hour
    site = make_site()
    make_stall_rules(site)
    _, port = start_process("web", WEB_CONCURRENCY="2", CARTASSIST_WIDGET_RATE=f"{LIMIT}/hour")
    bodies = [
        json.dumps(
            {"site_key": site.public_key, "events": [make_event(cart_id=f"cart-{n}")]}
        ).encode()
        for n in range(REQUESTS)
    ]
    headers = {"Content-Type": "text/plain", "Origin": SHOP_ORIGIN}

    # when: 600 requests for that key from 16 clients at once
    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(
            pool.map(lambda body: post(port, "/api/v1/widget/events", body, headers), bodies)
        )

    # then: exactly the limit got through, the rest were told to come back later
    statuses = Counter(status for status, _ in answers)
    assert statuses == {200: LIMIT, 429: REQUESTS - LIMIT}
    assert CartEvent.objects.count() == LIMIT
    refused = next(body for status, body in answers if status == 429)
    assert refused["detail"].startswith("Request was throttled.")
