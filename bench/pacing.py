"""The cost of pacing's decisions in a sweep batch: ``python -m bench.pacing``.

Pure Python, no database: a ``SitePacer`` (cartassist/carts/services/pacing.py) over the
default horizon (`CARTASSIST_PACING_HORIZON_HOURS`, the delay window and a week of carry:
240 hours), with room for every invitation, decides ``--carts`` invitations in a row as a
batch of the sweep would (each one adding its expected follow-ups to the ledger). Timed
``--repeat`` times after a warm-up; prints one JSON line: the batch's median and best
wall-clock time in ms and the time per decision in µs. The database side of a paced
batch (one grouped query) is in ``python -m bench --parts sweep --sweep-modes
invite-paced`` (bench/sweep.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--carts", type=int, default=500, help="decisions per batch")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartassist.settings")
    import django

    django.setup()
    print(json.dumps(run(carts=args.carts, repeat=args.repeat)))


def run(*, carts: int, repeat: int) -> dict[str, object]:
    from django.conf import settings

    from cartassist.carts.services.pacing import SitePacer
    from cartassist.domain.pacing import (
        MAX_CARRY_HOURS,
        FollowUpModel,
        HelpdeskLoad,
        PacingOutcome,
        default_delay_shape,
    )

    now = datetime(2026, 3, 10, 12, 10, tzinfo=UTC)
    delay = settings.CARTASSIST_PACING_DELAY_HOURS
    hours = delay + settings.CARTASSIST_PACING_HORIZON_HOURS + MAX_CARRY_HOURS
    load = HelpdeskLoad(
        start=now.replace(minute=0),
        current=delay,
        capacity=tuple([100_000.0] * hours),
        arrivals=tuple([0.0] * hours),
    )
    model = FollowUpModel(
        rates={}, overall=0.1, curve=default_delay_shape(delay, half_life_hours=4)
    )
    pacer = SitePacer(load=load, model=model, now=now)
    timings = []
    for round_ in range(repeat + 1):
        pacer.reset()
        started = time.perf_counter()
        for _ in range(carts):
            outcome = pacer.decide(stall_reason="idle", due_since=now)
        elapsed = time.perf_counter() - started
        if outcome is not PacingOutcome.INVITE:
            raise SystemExit("the helpdesk should have room for every invitation")
        if round_:  # the first round warms up
            timings.append(elapsed)
    median = statistics.median(timings)
    return {
        "carts": carts,
        "hours": hours,
        "batch_ms_median": round(median * 1000, 1),
        "batch_ms_min": round(min(timings) * 1000, 1),
        "us_per_decision": round(median * 1e6 / carts, 1),
        "repeat": repeat,
    }


if __name__ == "__main__":
    main()
