"""Stall deadline → invitation on the shopper's socket, in production mode:
``python -m bench --parts stall`` (PostgreSQL + Redis).

1. A site (no holdout, the agents' switch on: every stalled cart is invited) and
   ``--carts`` visitors with widget tokens (``python -m bench.stall seed``, a Django child).
2. daphne (``cartassist.asgi``), a Celery worker and Celery beat, as the Procfile runs
   them, with the product's sweep interval (``CARTASSIST_SWEEP_INTERVAL_SECONDS``, default
   0.5 s) unless ``--interval`` says otherwise.
3. Idle cost: the worker's and beat's CPU time over ``--idle`` seconds with nothing due
   (every sweep finds nothing: one index probe each).
4. One widget socket per visitor (token, Origin, hello); then one cart per visitor whose
   stall deadline falls ``2 s + i × 0.137 s`` ahead (``python -m bench.stall arm``), so the
   deadlines fall at every phase of the beat's period. The clock stops when the socket
   receives its ``invitation`` frame: latency = receipt − deadline (one machine, one
   clock). Reported: p50 / p99 / max, and the sweep interval, the floor's bound (an
   invitation can wait up to one interval for the next sweep).

Imports no Django itself: the seed and the arming run in child processes with the
bench's environment; every process started is stopped, also on failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .environment import (
    PYTHON,
    REPO,
    BenchDatabase,
    BenchError,
    free_port,
    run_django,
    wait_healthy,
)

BENCH_ORIGIN = "https://shop.bench.test"
FRAME_WAIT = 30.0


@dataclass
class StallOptions:
    carts: int = 40
    idle: float = 10.0
    interval: str = ""  # seconds; empty: the product's default


class Processes:
    """Processes started in their own sessions; ``stop()`` ends each group."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                args,
                env=env,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.started:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=10)
                    break
                except subprocess.TimeoutExpired:
                    continue


def session_cpu_seconds(session: int) -> float:
    """CPU seconds (user + system) of every live process of ``session`` (a process
    started with its own session, and its children: the worker's pool)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run_stall(db: BenchDatabase, options: StallOptions, log: Callable[[str], None]) -> dict:
    if db.kind != "postgres":
        raise BenchError("the stall bench runs in production mode only (postgres)")
    env = {
        **db.env,
        # Every stalled cart is invited: the site's switch decides, not console presence.
        "CARTASSIST_AGENT_AVAILABILITY": "cartassist.carts.availability.site_setting",
    }
    if options.interval:
        env["CARTASSIST_SWEEP_INTERVAL_SECONDS"] = options.interval
    seed = run_django(env, "bench.stall", "seed", str(options.carts))
    processes = Processes()
    with tempfile.TemporaryDirectory(prefix="cartassist-bench-stall-") as tmp:
        logs = Path(tmp)
        try:
            port = free_port()
            daphne_log = logs / "daphne.log"
            daphne = processes.start(
                [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "-v", "0"]
                + ["cartassist.asgi:application"],
                env,
                daphne_log,
            )
            celery = [PYTHON, "-m", "celery", "-A", "cartassist"]
            worker = processes.start(
                [*celery, "worker", "--loglevel", "WARNING"], env, logs / "worker.log"
            )
            beat = processes.start(
                [*celery, "beat", "--loglevel", "WARNING", "--schedule", f"{tmp}/beat"],
                env,
                logs / "beat.log",
            )
            wait_healthy(port, daphne, daphne_log.read_text)
            time.sleep(3)  # worker and beat up; the first sweeps run
            log(f"stall: idle cost over {options.idle:.0f} s")
            before = {p.pid: session_cpu_seconds(p.pid) for p in (worker, beat)}
            time.sleep(options.idle)
            idle = {
                name: round(1000 * (session_cpu_seconds(p.pid) - before[p.pid]) / options.idle, 2)
                for name, p in (("worker", worker), ("beat", beat))
            }
            log(f"stall: {options.carts} carts stalling over the beat's phases")
            latencies = asyncio.run(_latencies(seed, port, env))
        except BaseException:
            for name in ("daphne", "worker", "beat"):
                path = logs / f"{name}.log"
                if path.exists():
                    log(f"--- {name} log (last 1500 chars)\n{path.read_text()[-1500:]}")
            raise
        finally:
            processes.stop()
    interval = float(seed["interval_s"])
    return {
        "carts": options.carts,
        "interval_s": interval,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(_quantile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
        "min_ms": round(min(latencies), 1),
        "idle_cpu_ms_per_s": idle,
    }


async def _latencies(seed: dict[str, Any], port: int, env: dict[str, str]) -> list[float]:
    from websockets.asyncio.client import connect
    from websockets.typing import Origin

    sockets = []
    try:
        for token in seed["tokens"]:
            ws = await connect(
                f"ws://127.0.0.1:{port}/ws/widget/?token={quote(token)}",
                origin=Origin(BENCH_ORIGIN),
                proxy=None,
                ping_interval=None,
                open_timeout=FRAME_WAIT,
                compression=None,
            )
            sockets.append(ws)
            await _frame(ws, "hello")
        armed = await asyncio.to_thread(run_django, env, "bench.stall", "arm", str(len(sockets)))
        deadlines: list[float] = armed["deadlines"]
        received = await asyncio.gather(*(_frame(ws, "invitation") for ws in sockets))
        return [
            (at - deadline) * 1000 for (at, _), deadline in zip(received, deadlines, strict=True)
        ]
    finally:
        for ws in sockets:
            await ws.close()


async def _frame(ws: Any, wanted: str) -> tuple[float, dict[str, Any]]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), FRAME_WAIT))
        if frame["type"] == wanted:
            return time.time(), frame
        if frame["type"] == "error":
            raise BenchError(f"error frame: {frame}")


def _quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the Django children: ``python -m bench.stall seed N`` / ``arm`` ---------------------


def _seed(carts: int) -> dict[str, Any]:
    import django

    django.setup()
    from decimal import Decimal

    from django.conf import settings
    from django.utils import timezone

    from agents.tokens import visitor_token_issue
    from cartassist.models import Site

    now = timezone.now()
    site = Site.objects.create(
        name="Bench stall shop",
        allowed_origins=[BENCH_ORIGIN],
        currency="EUR",
        timezone="UTC",
        holdout_share=Decimal("0"),
        agents_available=True,
    )
    return {
        "site_id": site.pk,
        "interval_s": settings.CARTASSIST_SWEEP_INTERVAL.total_seconds(),
        "tokens": [
            visitor_token_issue(site_id=site.pk, visitor_id=f"stall-{n}", now=now)[0]
            for n in range(carts)
        ],
    }


def _arm(count: int) -> dict[str, Any]:
    """One cart per visitor of the bench site, its deadline 2 s + i × 0.137 s ahead."""
    import django

    django.setup()
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from cartassist.models import Cart, Site

    site = Site.objects.get(name="Bench stall shop")
    now = timezone.now()
    deadlines = [now + timedelta(seconds=2 + 0.137 * n) for n in range(count)]
    Cart.objects.bulk_create(
        Cart(
            site=site,
            external_id=f"stall-cart-{n}",
            visitor_id=f"stall-{n}",
            currency="EUR",
            subtotal=Decimal("60.00"),
            shipping_fee=Decimal("14.90"),
            stage="shipping",
            signal="shipping_quoted",
            state_at=now - timedelta(minutes=10),
            last_activity_at=now - timedelta(minutes=10),
            stall_deadline=deadline,
        )
        for n, deadline in enumerate(deadlines)
    )
    return {"deadlines": [d.timestamp() for d in deadlines]}


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "seed":
        print(json.dumps(_seed(int(sys.argv[2]))))
    elif command == "arm":
        print(json.dumps(_arm(int(sys.argv[2]))))
    else:
        raise SystemExit(f"unknown command {command!r}")
