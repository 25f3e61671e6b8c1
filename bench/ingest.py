"""Ingestion throughput: real endpoints next to two floors, per server and database.

The floors (bench/urls.py): ``bare``, a bare DRF endpoint that validates and answers, and
``bare-insert``, the same plus one durable INSERT of the events in a transaction on the
same database. For each database (a fresh one per database kind) and each process count,
the runner starts every server type on sockets it bound itself on 127.0.0.1, creates the
steady-state carts, warms the servers up, then drives each endpoint with wrk
(bench/wrk/events.lua) for a fixed time, single events and batches, alternating between
the servers and putting the product runs right after the floor runs they are compared
with. The product runs twice per batch size: ``new`` traffic (carts named by the run, so
mostly first events) and ``steady`` traffic (events for carts that already exist).

All of that is one round; the runner makes ``rounds`` of them (``--rounds``). The
machine's speed drifts by a quarter within minutes, so a ratio is only worth what the
pair it divides was measured in: each round's ratios divide figures taken seconds apart,
and the row reported is each figure's median over the rounds, with the lowest and
highest ratio beside it (``combine_rounds``). Afterwards it checks that the database
holds at least as many events as wrk saw acknowledged.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from .environment import (
    POSTGRES_ADMIN_URL,
    POSTGRES_BENCH_DB,
    PYTHON,
    REPO,
    BenchDatabase,
    BenchError,
    run_django,
)

WRK_SCRIPT = REPO / "bench" / "wrk" / "events.lua"
PATHS = {
    "widget": "/api/v1/widget/events",
    "server": "/api/v1/server/events",
    "bare": "/api/bench/bare-events",
    "bare-insert": "/api/bench/bare-insert",
}
# Endpoints that are floors, not the product: measured once per batch size, first.
FLOORS = ("bare", "bare-insert")
TRAFFICS = ("new", "steady")
STEADY_PREFIX = "steady"  # bench/prepare.py's carts for the steady traffic


@dataclass
class IngestOptions:
    servers: list[str]
    processes: list[int]
    batch_sizes: list[int]
    endpoints: list[str]
    duration: float
    warmup: float
    connections: int
    carts: int
    warmup_endpoints: list[str] | None = None  # None: every endpoint
    traffics: tuple[str, ...] = TRAFFICS
    steady_carts: int = 2000
    rounds: int = 1


@dataclass
class IngestRow:
    server: str
    processes: int
    database: str
    endpoint: str
    events_per_request: int
    requests: int
    seconds: float
    requests_per_s: float
    events_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float
    errors: int
    acknowledged_events: int
    ratio_to_bare: float | None = None
    queries_per_request: int | None = None
    traffic: str = ""  # "new" | "steady" for product rows; "" for floors
    ratio_to_bare_insert: float | None = None
    # Over the rounds (``combine_rounds``): how many, and the spread of the figures whose
    # median the row reports. A single round's row has rounds=1 and no spread.
    rounds: int = 1
    round_index: int = 0
    ratio_to_bare_insert_range: tuple[float, float] | None = None
    events_per_s_range: tuple[float, float] | None = None
    # CPU time of the PostgreSQL backends of the bench's database per request (None on
    # SQLite, which runs in the server process): where a durable request's time goes.
    db_cpu_ms_per_request: float | None = None


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise BenchError("wrk is not installed: `apt-get install wrk` (Debian) and run again.")
    return path


class Server:
    """``processes`` daphne processes sharing one listening socket (--fd), or gunicorn
    with ``processes`` sync workers on that socket (fd://)."""

    def __init__(self, kind: str, processes: int, env: dict[str, str]) -> None:
        self.kind = kind
        self.processes = processes
        self.env = env
        # gunicorn: one socket; a sync worker accepts only when idle, so work spreads.
        # daphne: one SO_REUSEPORT socket per process, so the kernel spreads connections
        # over the processes (one shared socket lets one process accept every keep-alive
        # connection and leaves the other idle).
        count = processes if kind == "daphne" else 1
        first = self._listen(port=0, reuse_port=count > 1)
        self.port = first.getsockname()[1]
        self.sockets = [first]
        self.sockets += [self._listen(port=self.port, reuse_port=True) for _ in range(count - 1)]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()

    @staticmethod
    def _listen(*, port: int, reuse_port: bool) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(2048)
        sock.set_inheritable(True)
        return sock

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.kind == "daphne":
            for sock in self.sockets:
                fd = sock.fileno()
                command = [PYTHON, "-m", "daphne", "--fd", str(fd), "-v", "0"]
                self._spawn([*command, "cartassist.asgi:application"], fd)
        elif self.kind == "gunicorn":
            fd = self.sockets[0].fileno()
            command = [PYTHON, "-m", "gunicorn", "--bind", f"fd://{fd}"]
            command += ["--workers", str(self.processes), "--worker-class", "sync"]
            self._spawn([*command, "--log-level", "warning", "cartassist.wsgi:application"], fd)
        else:
            raise BenchError(f"unknown server {self.kind!r}")
        self._wait_ready()

    def _spawn(self, command: list[str], fd: int) -> None:
        self.procs.append(
            subprocess.Popen(
                command,
                env=self.env,
                cwd=REPO,
                pass_fds=(fd,),
                stdout=subprocess.DEVNULL,
                stderr=self.stderr,
            )
        )

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        ready = 0
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise BenchError(f"{self.kind} exited with {proc.returncode}:\n{self.errors()}")
            try:
                with urllib.request.urlopen(self.base_url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        ready += 1
                        if ready >= 3 * self.processes:
                            return
                        continue
            except OSError:
                pass
            time.sleep(0.2)
        raise BenchError(f"{self.kind} did not answer /healthz within {timeout:.0f} s")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server's processes and their
        children (gunicorn's workers). Unlike throughput, CPU time per request hardly
        changes when other processes compete for the cores."""
        return sum(_cpu_seconds(pid) for pid in _descendants({p.pid for p in self.procs}))

    def errors(self) -> str:
        """The end of what the server processes wrote to stderr."""
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs.clear()
        self.stderr.close()
        for sock in self.sockets:
            sock.close()


_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields after "(comm)", from state on


def _descendants(roots: set[int]) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    found = set(roots)
    grew = True
    while grew:
        children = {pid for pid, ppid in parents.items() if ppid in found} - found
        found |= children
        grew = bool(children)
    return found


def _cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


@contextmanager
def running_server(kind: str, processes: int, env: dict[str, str]) -> Iterator[Server]:
    server = Server(kind, processes, env)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def run_wrk(
    server: Server,
    *,
    endpoint: str,
    per_request: int,
    duration: float,
    connections: int,
    carts: int,
    site: dict[str, str],
    cart_prefix: str = "",
) -> dict[str, float]:
    """One wrk run against ``endpoint``; returns wrk's counts (see events.lua done()).
    ``cart_prefix``: empty for new carts per run, ``STEADY_PREFIX`` for existing ones."""
    run_id = "r" + secrets.token_hex(4)
    command = [
        require_wrk(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_SCRIPT),
        server.base_url + PATHS[endpoint],
        "--",
        endpoint,
        str(per_request),
        str(carts),
        run_id,
        site["public_key"],
        site["secret"],
        site["origin"],
        *([cart_prefix] if cart_prefix else []),
    ]
    proc = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 120, check=False
    )
    result_lines = [line for line in proc.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
    if proc.returncode != 0 or not result_lines:
        raise BenchError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(result_lines[-1].removeprefix("BENCH_RESULT "))


def database_backends_cpu(db: BenchDatabase) -> dict[int, float] | None:
    """CPU seconds used so far by each PostgreSQL backend connected to the bench's
    database (this machine's server: its processes are readable here), by process id;
    None for SQLite."""
    if db.kind != "postgres":
        return None
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [POSTGRES_BENCH_DB],
        ).fetchall()
    return {pid: _cpu_seconds(pid) for (pid,) in rows}


def _backends_cpu_used(before: dict[int, float] | None, db: BenchDatabase) -> float | None:
    """CPU seconds the backends used since ``before``: a backend that started meanwhile
    counts whole, one that ended meanwhile is lost (the servers keep theirs open)."""
    after = database_backends_cpu(db)
    if before is None or after is None:
        return None
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def measure(
    server: Server,
    *,
    database: str,
    endpoint: str,
    per_request: int,
    options: IngestOptions,
    site: dict[str, str],
    traffic: str = "",
    db: BenchDatabase | None = None,
) -> IngestRow:
    backends_before = database_backends_cpu(db) if db is not None else None
    cpu_before = server.cpu_seconds()
    steady = traffic == "steady"
    raw = run_wrk(
        server,
        endpoint=endpoint,
        per_request=per_request,
        duration=options.duration,
        connections=options.connections,
        carts=options.steady_carts if steady else options.carts,
        site=site,
        cart_prefix=STEADY_PREFIX if steady else "",
    )
    cpu = server.cpu_seconds() - cpu_before
    db_cpu = _backends_cpu_used(backends_before, db) if db is not None else None
    seconds = raw["duration_us"] / 1e6
    errors = int(raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"])
    requests = int(raw["requests"])
    good = requests - int(raw["status"])
    return IngestRow(
        server=server.kind,
        processes=server.processes,
        database=database,
        endpoint=endpoint,
        events_per_request=per_request,
        requests=requests,
        seconds=round(seconds, 2),
        requests_per_s=round(good / seconds, 1),
        events_per_s=round(good * per_request / seconds, 1),
        p50_ms=round(raw["p50_us"] / 1000, 1),
        p99_ms=round(raw["p99_us"] / 1000, 1),
        cpu_ms_per_request=round(cpu * 1000 / requests, 2) if requests else 0.0,
        errors=errors,
        acknowledged_events=good * per_request,
        traffic=traffic,
        db_cpu_ms_per_request=round(db_cpu * 1000 / requests, 2)
        if db_cpu is not None and requests
        else None,
    )


def run_ingest(
    db: BenchDatabase, options: IngestOptions, log: Callable[[str], None]
) -> list[IngestRow]:
    """All ingestion measurements for one database.

    Every server type runs at once (an idle server costs no CPU) and the wrk runs
    alternate between them, endpoint by endpoint, so that the figures compared with each
    other (product vs bare, gunicorn vs daphne) are taken seconds apart, under the same
    background load.
    """
    require_wrk()
    site = run_django(db.env, "bench.prepare", "site")
    if "steady" in options.traffics:
        run_django(db.env, "bench.prepare", "steady", site["public_key"], str(options.steady_carts))
    run_django(db.env, "bench.prepare", "analyze")
    rows: list[IngestRow] = []  # every round's
    for processes in options.processes:
        with ExitStack() as stack:
            servers = []
            for kind in options.servers:
                log(f"  {kind}, {processes} process(es), on {db.label}")
                servers.append(stack.enter_context(running_server(kind, processes, db.env)))
            rows += _measure_servers(servers, db, options, site, log)
    acknowledged = sum(r.acknowledged_events for r in rows if r.endpoint not in FLOORS)
    counts = run_django(db.env, "bench.prepare", "count")
    if counts["events"] < acknowledged:
        raise BenchError(
            f"only {counts['events']} events stored, but {acknowledged} were acknowledged"
        )
    floor_acknowledged = sum(r.acknowledged_events for r in rows if r.endpoint == "bare-insert")
    if counts["bench_insert_rows"] < floor_acknowledged:
        raise BenchError(
            f"only {counts['bench_insert_rows']} floor rows stored, "
            f"but {floor_acknowledged} were acknowledged"
        )
    log(f"  stored {counts['events']} events in {counts['carts']} carts")
    queries = run_django(db.env, "bench.prepare", "queries")
    log(f"  queries per widget request: {queries}")
    combined = combine_rounds(rows)
    for row in combined:
        if row.endpoint == "widget":
            suffix = "-steady" if row.traffic == "steady" else ""
            row.queries_per_request = queries.get(f"{row.events_per_request}{suffix}")
    return combined


def combine_rounds(rows: list[IngestRow]) -> list[IngestRow]:
    """One row per measurement (server, processes, database, endpoint, traffic, batch
    size): each figure the median of its rounds, each ratio the median of the rounds'
    own ratios (each divides figures of the same round), with the ratio's and the
    throughput's lowest and highest round. Counts are the rounds' sums."""
    groups: dict[tuple[object, ...], list[IngestRow]] = {}
    for row in rows:
        key = (row.server, row.processes, row.database, row.endpoint, row.traffic)
        groups.setdefault((*key, row.events_per_request), []).append(row)
    combined = []
    for group in groups.values():
        first = group[0]

        def median(name: str, group: list[IngestRow] = group) -> float:
            return round(statistics.median(getattr(r, name) for r in group), 2)

        def ratio(name: str, group: list[IngestRow] = group) -> float | None:
            values = [v for r in group if (v := getattr(r, name)) is not None]
            return round(statistics.median(values), 3) if values else None

        spread = [r.ratio_to_bare_insert for r in group if r.ratio_to_bare_insert is not None]
        db_cpu = [r.db_cpu_ms_per_request for r in group if r.db_cpu_ms_per_request is not None]
        throughputs = [r.events_per_s for r in group]
        combined.append(
            IngestRow(
                server=first.server,
                processes=first.processes,
                database=first.database,
                endpoint=first.endpoint,
                events_per_request=first.events_per_request,
                requests=sum(r.requests for r in group),
                seconds=round(sum(r.seconds for r in group), 2),
                requests_per_s=round(median("requests_per_s"), 1),
                events_per_s=round(median("events_per_s"), 1),
                p50_ms=median("p50_ms"),
                p99_ms=median("p99_ms"),
                cpu_ms_per_request=median("cpu_ms_per_request"),
                errors=sum(r.errors for r in group),
                acknowledged_events=sum(r.acknowledged_events for r in group),
                ratio_to_bare=ratio("ratio_to_bare"),
                traffic=first.traffic,
                ratio_to_bare_insert=ratio("ratio_to_bare_insert"),
                rounds=len(group),
                ratio_to_bare_insert_range=(min(spread), max(spread)) if spread else None,
                events_per_s_range=(min(throughputs), max(throughputs)),
                db_cpu_ms_per_request=round(statistics.median(db_cpu), 2) if db_cpu else None,
            )
        )
    return combined


def _measure_servers(
    servers: list[Server],
    db: BenchDatabase,
    options: IngestOptions,
    site: dict[str, str],
    log: Callable[[str], None],
) -> list[IngestRow]:
    for server in servers:
        for endpoint in options.warmup_endpoints or options.endpoints:  # not recorded
            run_wrk(
                server,
                endpoint=endpoint,
                per_request=1,
                duration=options.warmup,
                connections=options.connections,
                carts=options.carts,
                site=site,
            )
    rows = []
    floors = [e for e in FLOORS if e in options.endpoints]
    products = [e for e in options.endpoints if e not in FLOORS]
    rounds = [(index, size) for index in range(options.rounds) for size in options.batch_sizes]
    for round_index, per_request in rounds:
        if options.rounds > 1 and per_request == options.batch_sizes[0]:
            log(f"    round {round_index + 1} of {options.rounds}")
        baselines: dict[tuple[str, str], IngestRow] = {}  # (server, floor) → row
        # The floors first, then the product endpoints right after them.
        runs = [(e, "") for e in floors]
        runs += [(e, traffic) for traffic in options.traffics for e in products]
        for endpoint, traffic in runs:
            for server in servers:
                row = measure(
                    server,
                    database=db.label,
                    endpoint=endpoint,
                    per_request=per_request,
                    options=options,
                    site=site,
                    traffic=traffic,
                    db=db,
                )
                row.round_index = round_index
                if endpoint in FLOORS:
                    baselines[(server.kind, endpoint)] = row
                else:
                    row.ratio_to_bare = _ratio(row, baselines.get((server.kind, "bare")))
                    row.ratio_to_bare_insert = _ratio(
                        row, baselines.get((server.kind, "bare-insert"))
                    )
                rows.append(row)
                log(
                    f"    {server.kind:8} {endpoint:11} {traffic:6} x{per_request:<3}"
                    f" {row.events_per_s:>9.1f} events/s {row.requests_per_s:>7.1f} req/s"
                    f"  p99 {row.p99_ms} ms  cpu {row.cpu_ms_per_request} ms/req"
                    f"  db cpu {row.db_cpu_ms_per_request} ms/req"
                    f"  errors {row.errors}"
                )
                if row.errors or not row.requests:
                    log(f"    errors or no request completed; server stderr:\n{server.errors()}")
    return rows


def _ratio(row: IngestRow, baseline: IngestRow | None) -> float | None:
    if baseline is None or not baseline.events_per_s:
        return None
    return round(row.events_per_s / baseline.events_per_s, 3)


def rows_as_dicts(rows: list[IngestRow]) -> list[dict[str, object]]:
    return [asdict(row) for row in rows]
