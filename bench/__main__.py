"""Run the CartAssist benchmarks and print the figures (docs/PERFORMANCE.md).

    .venv/bin/python -m bench                 # everything, about half an hour
    .venv/bin/python -m bench --quick         # a smoke run, under 2 minutes
    .venv/bin/python -m bench --parts sweep --dbs postgres
    .venv/bin/python -m bench --parts analytics --dbs postgres   # about 5 minutes
    .venv/bin/python -m bench --parts policies                   # about 3 minutes
    .venv/bin/python -m bench --parts stall --dbs postgres       # about 1 minute
    .venv/bin/python -m bench --parts chat --dbs postgres        # relay latency, throughput

Traffic goes only to servers this command starts on 127.0.0.1; every server it starts
is stopped and every database it creates is dropped, also on failure or Ctrl-C.
Needs wrk (`apt-get install wrk`), and PostgreSQL and Redis on 127.0.0.1 for the
``postgres`` database.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypedDict

from . import chat as chat_bench
from .environment import (
    POSTGRES_ADMIN_URL,
    REDIS_URL,
    REPO,
    BenchError,
    base_env,
    check_services,
    open_database,
    run_django,
)
from .goals import render_goals
from .ingest import IngestOptions, IngestRow, require_wrk, rows_as_dicts, run_ingest
from .stall import StallOptions, run_stall


class Preset(TypedDict):
    duration: float
    warmup: float
    rounds: int
    processes: str
    sweep_sizes: dict[str, str]
    sweep_repeat: int
    sweep_modes: str
    analytics_sizes: dict[str, str]
    analytics_repeat: int
    policy_sizes: str
    policy_repeat: int


FULL: Preset = {
    "duration": 5.0,
    "warmup": 1.0,
    "rounds": 3,
    "processes": "1,2",
    "sweep_sizes": {"postgres": "10000,100000,1000000", "sqlite": "10000,100000"},
    "sweep_repeat": 2,
    "sweep_modes": "invite,invite-no-push,suppress",
    "analytics_sizes": {"postgres": "100000,1000000"},
    "analytics_repeat": 5,
    "policy_sizes": "10,100,1000",
    "policy_repeat": 1000,
}
QUICK: Preset = {
    "duration": 2.0,
    "warmup": 1.0,
    "rounds": 1,
    "processes": "1",
    "sweep_sizes": {"postgres": "10000,100000", "sqlite": ""},
    "sweep_repeat": 1,
    "sweep_modes": "suppress",
    "analytics_sizes": {"postgres": "100000"},
    "analytics_repeat": 3,
    "policy_sizes": "10,1000",
    "policy_repeat": 200,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, fewer sizes")
    parser.add_argument(
        "--parts",
        default="validation,ingest,sweep,analytics,policies,stall,chat",
        help="validation,ingest,sweep,analytics,policies,stall,chat",
    )
    parser.add_argument(
        "--dbs", default="sqlite,postgres", help="sqlite,postgres (and sqlite-default)"
    )
    parser.add_argument("--servers", default="daphne,gunicorn", help="daphne,gunicorn")
    parser.add_argument(
        "--processes", default=None, help="server processes, e.g. 1,2 (full) or 2 (quick)"
    )
    parser.add_argument(
        "--endpoints",
        default="bare,bare-insert,widget,server",
        help="floors bare, bare-insert (validate + one durable INSERT); product widget, server",
    )
    parser.add_argument(
        "--traffics",
        default="new,steady",
        help="new (carts named by the run: first events), steady (carts that exist)",
    )
    parser.add_argument("--steady-carts", type=int, default=2000, help="carts of steady traffic")
    parser.add_argument("--batch-sizes", default="1,50", help="events per request")
    parser.add_argument("--duration", type=float, default=None, help="seconds per wrk run")
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="ingest rounds, each floors then product; medians reported (full 3, quick 1)",
    )
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--carts", type=int, default=20000, help="distinct carts per run")
    parser.add_argument("--sweep-sizes", default=None, help="total carts, e.g. 10000,100000")
    parser.add_argument("--stalled", type=int, default=1000)
    parser.add_argument("--sweep-repeat", type=int, default=None)
    parser.add_argument(
        "--sweep-modes",
        default=None,
        help="invite,invite-no-push,suppress,invite-paced (quick: suppress)",
    )
    parser.add_argument(
        "--analytics-sizes", default=None, help="interventions, e.g. 100000,1000000 (PostgreSQL)"
    )
    parser.add_argument("--analytics-repeat", type=int, default=None)
    parser.add_argument("--chat-messages", type=int, default=None, help="latency round trips")
    parser.add_argument("--chat-pairs", type=int, default=20, help="throughput sender pairs")
    parser.add_argument(
        "--policy-sizes", default=None, help="active policies per site, e.g. 10,100,1000"
    )
    parser.add_argument("--policy-repeat", type=int, default=None, help="timed calls per case")
    parser.add_argument("--stall-carts", type=int, default=40, help="stalling carts (sockets)")
    parser.add_argument(
        "--stall-interval", default="", help="sweep interval in s (default: the product's)"
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="where to save results (default bench/results/)"
    )
    return parser.parse_args(argv)


_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    preset = QUICK if args.quick else FULL
    parts = _split(args.parts)
    dbs = _split(args.dbs)
    started = time.monotonic()
    try:
        if "ingest" in parts:
            require_wrk()
        check_services(dbs)
    except BenchError as exc:
        log(f"bench: {exc}")
        return 2
    machine = machine_info()
    load = _warn_if_busy(machine)
    results: dict[str, Any] = {
        "command": " ".join(["python -m bench", *argv]),
        "machine": machine,
        "validation": [],
        "ingest": [],
        "sweep": {},
        "analytics": {},
        "policies": {},
        "stall": {},
    }
    try:
        for part in PARTS:
            if part in parts:
                PARTS[part](args, preset, dbs, results)
    except BenchError as exc:
        log(f"bench: {exc}")
        status = 1
    except KeyboardInterrupt:
        log("bench: interrupted; servers stopped and databases dropped")
        return 130
    else:
        status = 0
    results["seconds"] = round(time.monotonic() - started, 1)
    results["machine"]["load average before / after"] = (
        f"{load:.2f} / {os.getloadavg()[0]:.2f} (1 min)"
    )
    print(render(results))
    _save(results, args.json, status)
    return status


def _warn_if_busy(machine: dict[str, str]) -> float:
    """The load average before starting, with a warning when other work will skew it."""
    load = os.getloadavg()[0]
    if load > 1.0:
        log(
            f"bench: warning: load average {load:.1f} before starting on {machine['cores']} "
            "cores: other processes will skew the figures"
        )
    return load


def _save(results: dict[str, Any], path: Path | None, status: int) -> None:
    path = path or REPO / "bench" / "results" / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    if status:
        log(f"bench: FAILED after {results['seconds']} s; partial results saved to {path}")
    else:
        log(f"bench: done in {results['seconds']} s; results saved to {path}")


# --- the parts: each adds its figures to ``results`` ----------------------------------------


def _bench_validation(
    args: argparse.Namespace, preset: Preset, dbs: list[str], results: dict[str, Any]
) -> None:
    log("validation: in-process, no database")
    with tempfile.TemporaryDirectory(prefix="cartassist-bench-") as tmp:
        env = base_env({"SQLITE_PATH": f"{tmp}/unused.sqlite3", "STATIC_ROOT": tmp})
        seconds = "0.5" if args.quick else "3"
        out = run_django(env, "bench.validation", args.batch_sizes, seconds)
        results["validation"] = out["rows"]


def _bench_ingest(
    args: argparse.Namespace, preset: Preset, dbs: list[str], results: dict[str, Any]
) -> None:
    options = IngestOptions(
        servers=_split(args.servers),
        processes=[int(p) for p in _split(args.processes or preset["processes"])],
        batch_sizes=[int(b) for b in _split(args.batch_sizes)],
        endpoints=_split(args.endpoints),
        duration=args.duration or preset["duration"],
        warmup=preset["warmup"],
        connections=args.connections,
        carts=args.carts,
        warmup_endpoints=["widget"] if args.quick else None,
        traffics=tuple(_split(args.traffics)),
        steady_carts=args.steady_carts,
        rounds=args.rounds or preset["rounds"],
    )
    for kind in dbs:
        log(f"ingest: {kind}")
        db = open_database(kind)
        try:
            results["ingest"] += rows_as_dicts(run_ingest(db, options, log))
        finally:
            db.close()


def _bench_sweep(
    args: argparse.Namespace, preset: Preset, dbs: list[str], results: dict[str, Any]
) -> None:
    for kind in dbs:
        sizes = args.sweep_sizes or preset["sweep_sizes"].get(kind, "")
        if not sizes:
            continue
        log(f"sweep: {kind}, sizes {sizes}")
        db = open_database(kind)
        try:
            repeat = args.sweep_repeat or preset["sweep_repeat"]
            results["sweep"][kind] = run_django(
                db.env,
                "bench.sweep",
                f"--sizes={sizes}",
                f"--stalled={args.stalled}",
                f"--repeat={repeat}",
                f"--modes={args.sweep_modes or preset['sweep_modes']}",
            )
        finally:
            db.close()


def _bench_analytics(
    args: argparse.Namespace, preset: Preset, dbs: list[str], results: dict[str, Any]
) -> None:
    # PostgreSQL only: the data is generated with generate_series.
    for kind in dbs:
        sizes = args.analytics_sizes or preset["analytics_sizes"].get(kind, "")
        if not sizes:
            continue
        log(f"analytics: {kind}, sizes {sizes}")
        db = open_database(kind)
        try:
            repeat = args.analytics_repeat or preset["analytics_repeat"]
            results["analytics"][kind] = run_django(
                db.env, "bench.analytics", f"--sizes={sizes}", f"--repeat={repeat}"
            )
        finally:
            db.close()


def _bench_policies(
    args: argparse.Namespace, preset: Preset, dbs: list[str], results: dict[str, Any]
) -> None:
    sizes = args.policy_sizes or preset["policy_sizes"]
    repeat = args.policy_repeat or preset["policy_repeat"]
    for kind in dbs:
        log(f"policies: {kind}, sizes {sizes}")
        db = open_database(kind)
        try:
            results["policies"][kind] = run_django(
                db.env,
                "bench.policies",
                f"--sizes={sizes}",
                f"--repeat={repeat}",
                f"--uncached-repeat={max(20, repeat // 10)}",
            )
        finally:
            db.close()


def _bench_stall(
    args: argparse.Namespace, preset: Preset, dbs: list[str], results: dict[str, Any]
) -> None:
    # Production mode only: daphne, a Celery worker and beat on PostgreSQL and Redis.
    if "postgres" not in dbs:
        return
    log("stall: postgres, daphne + worker + beat")
    db = open_database("postgres")
    try:
        options = StallOptions(
            carts=args.stall_carts, idle=5.0 if args.quick else 10.0, interval=args.stall_interval
        )
        results["stall"]["postgres"] = run_stall(db, options, log)
    finally:
        db.close()


def _bench_chat(
    args: argparse.Namespace, preset: Preset, dbs: list[str], results: dict[str, Any]
) -> None:
    # PostgreSQL and Redis only: the relay is measured as production runs it.
    if "postgres" not in dbs:
        return
    log("chat: relay latency and throughput, product vs bare, one daphne")
    db = open_database("postgres")
    try:
        results["chat"], _seed = chat_bench.relay_run(
            db.env,
            messages=args.chat_messages or (200 if args.quick else 1000),
            warmup=50 if args.quick else 100,
            pairs=args.chat_pairs,
            seconds=2.0 if args.quick else 5.0,
            rounds=1 if args.quick else 2,
        )
    finally:
        db.close()


Part = Callable[[argparse.Namespace, Preset, list[str], dict[str, Any]], None]

# In the order they run.
PARTS: dict[str, Part] = {
    "validation": _bench_validation,
    "ingest": _bench_ingest,
    "sweep": _bench_sweep,
    "analytics": _bench_analytics,
    "policies": _bench_policies,
    "stall": _bench_stall,
    "chat": _bench_chat,
}


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


# --- machine and versions ---------------------------------------------------------------


def machine_info() -> dict[str, str]:
    info = {
        "cpu": _cpu_model(),
        "cores": str(_cores()),
        "memory": _memory(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    for package in ["django", "djangorestframework", "daphne", "twisted", "gunicorn", "psycopg"]:
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = "not installed"
    info["postgresql"] = _postgres_version()
    info["redis"] = _redis_version()
    info["wrk"] = _wrk_version()
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cores() -> int:
    return len(os.sched_getaffinity(0))


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "unknown"


def _postgres_version() -> str:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else "unknown"
    except Exception:  # not reachable: reported as such
        return "not reachable"


def _redis_version() -> str:
    try:
        import redis

        return str(redis.Redis.from_url(REDIS_URL).info("server")["redis_version"])
    except Exception:  # not reachable: reported as such
        return "not reachable"


def _wrk_version() -> str:
    try:
        out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        return (out.stdout or out.stderr).splitlines()[0].split("[")[0].strip()
    except (OSError, IndexError):
        return "not installed"


# --- tables -------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render(results: dict[str, Any]) -> str:
    out = [f"# CartAssist benchmark: `{results['command']}`", ""]
    out.append(table(["", ""], [[k, v] for k, v in results["machine"].items()]))
    out += render_goals(results)
    if results["validation"]:
        out += _render_validation(results["validation"])
    if results["ingest"]:
        out += _render_ingest([IngestRow(**row) for row in results["ingest"]])
    for kind, sweep in results["sweep"].items():
        out += _render_sweep(kind, sweep)
    for kind, analytics in results.get("analytics", {}).items():
        out += _render_analytics(kind, analytics)
    for kind, policies in results.get("policies", {}).items():
        out += _render_policies(kind, policies)
    for kind, stall in results.get("stall", {}).items():
        out += _render_stall(kind, stall)
    if results.get("chat"):
        out += ["", *chat_bench.render_relay(results["chat"])]
    return "\n".join(out)


def _render_validation(rows: list[dict[str, Any]]) -> list[str]:
    out = ["", "## Validation per event, in-process (no server, no database)", ""]
    out.append(
        table(
            ["events/batch", "product ms/event", "bare DRF ms/event", "product ÷ bare"],
            [
                [
                    r["events_per_batch"],
                    r["product_ms_per_event"],
                    r["bare_ms_per_event"],
                    f"{r['product_ms_per_event'] / r['bare_ms_per_event']:.1f}",
                ]
                for r in rows
            ],
        )
    )
    return out


INGEST_HEADERS = [
    "server",
    "proc.",
    "database",
    "endpoint",
    "traffic",
    "events/req",
    "req/s",
    "events/s",
    "÷ bare",
    "÷ bare+insert",
    "÷ bare+insert, rounds' range",
    "p50 ms",
    "p99 ms",
    "CPU ms/req",
    "DB CPU ms/req",
    "errors",
]


def _ingest_cells(r: IngestRow) -> list[Any]:
    return [
        r.server,
        r.processes,
        r.database,
        r.endpoint,
        r.traffic,
        r.events_per_request,
        f"{r.requests_per_s:,.0f}",
        f"{r.events_per_s:,.0f}",
        f"{r.ratio_to_bare:.2f}" if r.ratio_to_bare is not None else "",
        f"{r.ratio_to_bare_insert:.2f}" if r.ratio_to_bare_insert is not None else "",
        _spread(r),
        r.p50_ms,
        r.p99_ms,
        r.cpu_ms_per_request,
        r.db_cpu_ms_per_request if r.db_cpu_ms_per_request is not None else "",
        r.errors,
    ]


def _spread(r: IngestRow) -> str:
    if r.ratio_to_bare_insert_range is None or r.rounds < 2:
        return ""
    low, high = r.ratio_to_bare_insert_range
    return f"{low:.2f}–{high:.2f} ({r.rounds})"


def _render_ingest(rows: list[IngestRow]) -> list[str]:
    rounds = max(r.rounds for r in rows)
    out = ["", "## Ingestion throughput", ""]
    if rounds > 1:
        out += [
            f"Each figure is the median of {rounds} rounds (each round: the floors, then "
            "the product right after them); each ratio the median of the rounds' own.",
            "",
        ]
    out.append(table(INGEST_HEADERS, [_ingest_cells(r) for r in rows]))
    queries = sorted(
        {
            (r.database, r.events_per_request, r.traffic, r.queries_per_request)
            for r in rows
            if r.queries_per_request is not None
        }
    )
    if queries:
        out += ["", "Database queries of one widget request (Django's test client):", ""]
        out.append(
            table(["database", "events/req", "traffic", "queries"], [list(q) for q in queries])
        )
    ratios = _server_ratios(rows)
    if ratios:
        out += ["", "## WSGI (gunicorn) vs ASGI (daphne): same database, processes, load", ""]
        out.append(ratios)
    return out


def _render_sweep(kind: str, sweep: dict[str, Any]) -> list[str]:
    out = ["", f"## Stall sweep ({kind}), {sweep['rows'][0]['stalled']} stalled carts", ""]
    out.append(
        table(
            [
                "total carts",
                "pending",
                "mode",
                "decisions",
                "sweep ms",
                "ms / stalled cart",
                "queries",
                "idle sweep ms",
            ],
            [
                [
                    f"{r['total_carts']:,}",
                    f"{r['pending_carts']:,}",
                    r["mode"],
                    ", ".join(f"{k} {v}" for k, v in r["decisions"].items()),
                    r["sweep_ms_median"],
                    r["ms_per_stalled_cart"],
                    r["queries_per_sweep"],
                    r["idle_sweep_ms"],
                ]
                for r in sweep["rows"]
            ],
        )
    )
    if sweep.get("explain"):
        largest = max(r["total_carts"] for r in sweep["rows"])
        out += ["", f"Claim query plan at {largest:,} carts:", "", "```"]
        out += [sweep["explain"], "```"]
    return out


def _render_analytics(kind: str, analytics: dict[str, Any]) -> list[str]:
    out = ["", f"## Analytics ({kind}): analytics_compute against the interventions", ""]
    rows = analytics["rows"]
    out.append(
        table(
            ["interventions", "selection", "selected", "rollups median ms", "min ms",
             "today's query path ms", "ratio", "identical", "queries",
             "slowest queries (ms, first run)"],
            [
                [
                    f"{r['interventions']:,}",
                    r["case"],
                    f"{r['selected']:,}",
                    r["compute_ms_median"],
                    r["compute_ms_min"],
                    r.get("reference_ms_median") or "—",
                    f"{r['compute_ms_median'] / r['reference_ms_median']:.3f}"
                    if r.get("reference_ms_median") else "—",
                    {True: "yes", False: "NO", None: "—"}[r.get("identical")],
                    r["queries"] if r["queries"] is not None else "—",
                    ", ".join(f"{label} {ms}" for label, ms in r["slowest_queries_ms"]),
                ]
                for r in rows
            ],
        )
    )  # fmt: skip
    builds = {r["interventions"]: r for r in rows if "build_s" in r}
    for size, r in sorted(builds.items()):
        out.append(
            f"\nAt {size:,} interventions: bulk load {r['load_s']} s (with the change "
            f"triggers), rollups built in {r['build_s']} s ({r['build_days']} site-days, "
            "UTC and each site's zone)."
        )
    return out


def _render_policies(kind: str, policies: dict[str, Any]) -> list[str]:
    """Each case at each size, with its ratio to the pure engine (the floor) of the same
    size and run."""
    out = ["", f"## Remedies for a chat ({kind}): p50 / p99 against the pure engine", ""]
    floors = {r["policies"]: r for r in policies["rows"] if r["case"] == "engine"}
    rows = []
    for r in policies["rows"]:
        floor = floors[r["policies"]]
        rows.append(
            [
                f"{r['policies']:,}",
                r["case"],
                r["calls"],
                r["p50_ms"],
                r["p99_ms"],
                r["max_ms"],
                r["cpu_ms_mean"],
                f"{r['p50_ms'] / floor['p50_ms']:.1f}",
                f"{r['p99_ms'] / floor['p99_ms']:.1f}",
            ]
        )
    headers = ["policies", "case", "calls", "p50 ms", "p99 ms", "max ms", "CPU ms/call"]
    out.append(table(headers + ["p50 ÷ engine", "p99 ÷ engine"], rows))
    return out


def _render_stall(kind: str, stall: dict[str, Any]) -> list[str]:
    """Deadline → invitation frame, against the floor's bound: one sweep interval (a
    deadline can fall just after a sweep)."""
    out = ["", f"## Stall deadline → invitation on the shopper's socket ({kind})", ""]
    interval_ms = stall["interval_s"] * 1000
    idle = stall["idle_cpu_ms_per_s"]
    out.append(
        table(
            ["carts", "sweep interval ms", "min ms", "p50 ms", "p99 ms", "max ms",
             "p99 ÷ interval", "idle CPU ms/s worker", "idle CPU ms/s beat"],
            [[stall["carts"], f"{interval_ms:.0f}", stall["min_ms"], stall["p50_ms"],
              stall["p99_ms"], stall["max_ms"], f"{stall['p99_ms'] / interval_ms:.2f}",
              idle["worker"], idle["beat"]]],
        )
    )  # fmt: skip
    return out


def _server_ratios(rows: list[IngestRow]) -> str | None:
    by_key = {
        (r.server, r.processes, r.database, r.endpoint, r.traffic, r.events_per_request): r
        for r in rows
    }
    lines = []
    for (server, procs, database, endpoint, traffic, per_request), row in by_key.items():
        if server != "gunicorn":
            continue
        asgi = by_key.get(("daphne", procs, database, endpoint, traffic, per_request))
        if asgi is None or not asgi.events_per_s:
            continue
        lines.append(
            [
                procs,
                database,
                endpoint,
                traffic,
                per_request,
                f"{asgi.events_per_s:,.0f}",
                f"{row.events_per_s:,.0f}",
                f"{row.events_per_s / asgi.events_per_s:.2f}",
                asgi.cpu_ms_per_request,
                row.cpu_ms_per_request,
                f"{asgi.cpu_ms_per_request / row.cpu_ms_per_request:.2f}"
                if row.cpu_ms_per_request
                else "",
            ]
        )
    if not lines:
        return None
    headers = ["proc.", "database", "endpoint", "traffic", "events/req"]
    headers += ["daphne ev/s", "gunicorn ev/s"]
    headers += ["throughput ratio", "daphne CPU ms/req", "gunicorn CPU ms/req", "CPU ratio"]
    return table(headers, lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
