"""Embedded scheduler: runs the stall sweep on a daemon thread of the server process.

Used when CARTASSIST_SWEEP_IN_PROCESS is on (the default without REDIS_URL). The loop
is modelled on healthchecks' ``sendalerts``: a shutdown flag, an idle sleep between
runs, and a failing run logged and retried on the next tick rather than killing the loop.
Production mode runs the same ``stall_sweep`` from Celery beat instead.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from cartassist.flows.housekeeping import chat_housekeeping
from cartassist.flows.sweep import stall_sweep
from cartassist.outcomes.services.outcomes import outcomes_finalise
from cartassist.webhooks.services import webhooks_redeliver_due

logger = logging.getLogger(__name__)

_started = threading.Event()
_stop = threading.Event()


def run_forever(stop: threading.Event) -> None:
    """Run the sweep every CARTASSIST_SWEEP_INTERVAL and the chat housekeeping every
    CARTASSIST_HOUSEKEEPING_INTERVAL, until ``stop`` is set."""
    jobs = [
        (
            "stall sweep",
            settings.CARTASSIST_SWEEP_INTERVAL.total_seconds(),
            lambda now: stall_sweep(now=now, batch_size=settings.CARTASSIST_SWEEP_BATCH_SIZE),
        ),
        (
            "outcomes finalisation",
            settings.CARTASSIST_OUTCOMES_INTERVAL.total_seconds(),
            lambda now: outcomes_finalise(now=now),
        ),
        (
            "chat housekeeping",
            settings.CARTASSIST_HOUSEKEEPING_INTERVAL.total_seconds(),
            lambda now: chat_housekeeping(now=now),
        ),
        (
            # Tasks run eagerly here: this sends due webhook retries on this thread.
            "webhook redelivery",
            settings.CARTASSIST_WEBHOOK_REDELIVERY_INTERVAL.total_seconds(),
            lambda now: webhooks_redeliver_due(now=now),
        ),
    ]
    next_run = {name: 0.0 for name, _, _ in jobs}
    while not stop.is_set():
        for name, interval, job in jobs:
            if time.monotonic() < next_run[name]:
                continue
            try:
                close_old_connections()
                job(timezone.now())
            except Exception:
                logger.exception("%s failed; retrying in %.0f s", name, interval)
            finally:
                close_old_connections()
            next_run[name] = time.monotonic() + interval
        stop.wait(max(0.05, min(next_run.values()) - time.monotonic()))


def start_in_background() -> bool:
    """Start the sweep thread once per process. Returns False if it was already running."""
    if _started.is_set():
        return False
    _started.set()
    thread = threading.Thread(target=run_forever, args=(_stop,), name="stall-sweep", daemon=True)
    thread.start()
    logger.info(
        "embedded stall sweep every %s s", settings.CARTASSIST_SWEEP_INTERVAL.total_seconds()
    )
    return True


def stop() -> None:
    _stop.set()
