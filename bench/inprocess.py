"""Ingestion in one process, statement by statement: a diagnostic, not a goal's figure.

    .venv/bin/python -m bench.inprocess widget 50 steady 300

Creates the bench's throw-away PostgreSQL database (``bench.environment``: Redis under
a key prefix of its own; both removed afterwards), its site and 2,000 steady carts, then
sends ``REQUESTS`` requests of ``EVENTS`` events to ``ENDPOINT`` (``widget``, ``server``
or the ``bare-insert`` floor) through Django's test client in this process: no HTTP
server, no wrk. Bodies are the wrk script's (bench/wrk/events.lua): a checkout journey
of five events per cart, ``new`` carts (named by the run: the wrk script's, so mostly
first events at first, then more and more later ones), ``first`` (every request a cart's
first event: ADR 0032's one statement) or ``steady`` ones (existing; also ``unwritten``
and ``unseen``, below).
Prints the wall and CPU time per request and each statement's time per request (the
driver's work included), slowest first. ``steady`` traffic first warms the process up
with twice as many requests as there are steady carts, so that it has seen most of them
(ADRs 0030 and 0031); ``unwritten`` sends the same events with the process's memory
of the cart versions it wrote emptied before each request (ADR 0031's one statement
never runs: the cart's lock of ADR 0030 instead), and ``unseen`` with its memory of the
carts it has seen emptied too: what the first event a process sees for an existing cart
costs.

Its CPU figures swing with the machine like any other. To compare two versions of the
code on a noisy machine, count instructions instead: run it under ``valgrind
--tool=callgrind`` with two request counts and divide the difference by the difference of
the counts (the set-up cancels out); docs/PERFORMANCE.md, "Issue 13: after ADR 0029".
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from .environment import open_database, run_django
from .validation import JOURNEY  # the wrk script's journey

PATHS = {
    "widget": "/api/v1/widget/events",
    "server": "/api/v1/server/events",
    "bare-insert": "/api/bench/bare-insert",
}
STEADY_CARTS = 2000
WARM_UP = 50
TRAFFICS = ("new", "first", "steady", "unwritten", "unseen")


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[0] not in PATHS or argv[2] not in TRAFFICS:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    endpoint, events, traffic, requests = argv[0], int(argv[1]), argv[2], int(argv[3])
    db = open_database("postgres")
    try:
        site = run_django(db.env, "bench.prepare", "site")
        run_django(db.env, "bench.prepare", "steady", site["public_key"], str(STEADY_CARTS))
        run_django(db.env, "bench.prepare", "analyze")
        os.environ.update(db.env)
        for line in _measure(endpoint, events, traffic, requests, site):
            print(line)
    finally:
        db.close()
    return 0


def _measure(
    endpoint: str, events: int, traffic: str, requests: int, site: dict[str, str]
) -> list[str]:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from cartassist.carts.services.ingest import known_carts_forget
    from cartassist.core.signing import sign

    existing = traffic not in ("new", "first")
    body = _bodies(
        site["public_key"],
        events,
        prefix="steady" if existing else "",
        every_cart_new=traffic == "first",
    )
    client = Client(HTTP_HOST="127.0.0.1", HTTP_ORIGIN=site["origin"])

    def post(payload: dict[str, Any]) -> None:
        if endpoint == "server":
            text = json.dumps({"events": payload["events"]})
            stamp = str(int(time.time()))
            signature = sign(site["secret"], stamp, text.encode())
            headers = {
                "X-CartAssist-Key": site["public_key"],
                "X-CartAssist-Timestamp": stamp,
                "X-CartAssist-Signature": signature,
            }
            response = client.post(PATHS[endpoint], text, "application/json", headers=headers)
        else:
            kind = "text/plain;charset=UTF-8" if endpoint == "widget" else "application/json"
            response = client.post(PATHS[endpoint], json.dumps(payload), kind)
        if response.status_code != 200:
            raise SystemExit(f"{endpoint} answered {response.status_code}: {response.content!r}")

    for _ in range(2 * STEADY_CARTS if existing else WARM_UP):
        post(body())
    payloads = [body() for _ in range(requests)]
    forgets: dict[str, Callable[[], None]] = {
        "unseen": known_carts_forget,
        "unwritten": lambda: known_carts_forget(versions_only=True),
    }
    forget = forgets.get(traffic, lambda: None)
    timings: dict[str, list[float]] = collections.defaultdict(list)

    def timed(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, *args)
        finally:
            timings[" ".join(sql.split())[:90]].append(time.perf_counter() - started)

    with connection.execute_wrapper(timed):
        wall, cpu = time.perf_counter(), time.process_time()
        for payload in payloads:
            forget()
            post(payload)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    lines = [
        f"{endpoint}, {events} event(s) per request, {traffic} carts, {requests} requests:",
        f"per request: wall {1000 * wall / requests:.2f} ms, CPU {1000 * cpu / requests:.2f} ms",
        "statement time per request (ms), statements per request, statement:",
    ]
    for sql, spent in sorted(timings.items(), key=lambda item: -sum(item[1])):
        share = len(spent) / requests
        lines.append(f"{1000 * sum(spent) / requests:8.3f}  {share:5.2f}  {sql}")
    return lines


def _bodies(
    site_key: str, events: int, *, prefix: str, every_cart_new: bool = False
) -> Callable[[], dict[str, Any]]:
    """A body maker: the wrk script's journeys, cart ids ``c<prefix>-<n>`` (``prefix``
    empty: one of this run's own, so mostly new carts; ``every_cart_new``: a cart of its
    own for each event)."""
    run = "i" + format(random.randrange(16**8), "08x")
    prefix = prefix or run
    counter = itertools.count()

    def body() -> dict[str, Any]:
        request = next(counter)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        out = []
        cart = 0
        for index in range(events):
            step = request % 5 if events == 1 else index % 5
            if every_cart_new:
                cart = 1 + request * events + index
            elif events == 1 or step == 0:
                cart = random.randint(1, STEADY_CARTS)
            kind, data = JOURNEY[step]
            out.append(
                {
                    "id": f"{run}-{request}-{index}",
                    "type": kind,
                    "occurred_at": now,
                    "cart_id": f"c{prefix}-{cart}",
                    "visitor_id": f"v{prefix}-{cart}",
                    "data": data,
                }
            )
        return {"site_key": site_key, "events": out}

    return body


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
