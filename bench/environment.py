"""Where a benchmark runs: a throw-away database (SQLite file or PostgreSQL database), the
environment its processes get, and clean-up. Imports no Django: the runner only starts
processes that load Django with this environment."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# CARTASSIST_BENCH_DB: the throw-away database's name (runs side by side need their own).
POSTGRES_BENCH_DB = os.environ.get("CARTASSIST_BENCH_DB", "cartassist_bench")
# CARTASSIST_BENCH_REDIS_URL: another Redis database for the run (keys under its own
# prefix either way, deleted afterwards).
REDIS_URL = os.environ.get("CARTASSIST_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

# Variables of the caller's environment that would change which database or services
# the benchmark processes use; the bench sets its own.
_SCRUBBED = {
    "DATABASE_URL",
    "DATABASE_URL_FILE",
    "REDIS_URL",
    "REDIS_URL_FILE",
    "SQLITE_PATH",
    "DJANGO_SETTINGS_MODULE",
    "CARTASSIST_WIDGET_RATE",
    "CARTASSIST_SERVER_RATE",
}


class BenchError(RuntimeError):
    pass


@dataclass
class BenchDatabase:
    """One database for one part of the run; ``close()`` removes it."""

    kind: str  # "sqlite" | "postgres"
    env: dict[str, str]
    label: str
    _tmpdir: Path | None = None
    _redis_prefix: str = ""
    _closed: bool = field(default=False)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.kind == "postgres":
            _postgres_drop(POSTGRES_BENCH_DB)
            _redis_delete_prefix(self._redis_prefix)
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)


# Per database name: runs side by side (CARTASSIST_BENCH_DB) do not share a database.
_LOCK_PATH = Path(tempfile.gettempdir()) / f"cartassist-bench-{POSTGRES_BENCH_DB}.lock"
_lock_file: IO[bytes] | None = None


def take_run_lock() -> None:
    """One bench run at a time per PostgreSQL database name: runs sharing it would drop
    each other's database. Held until the process exits."""
    global _lock_file
    if _lock_file is not None:
        return
    handle = _LOCK_PATH.open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise BenchError(f"another bench run holds {_LOCK_PATH}; wait for it to finish") from exc
    _lock_file = handle


def base_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of every bench process: production-like settings (DEBUG off,
    no SSL redirect on plain 127.0.0.1) with rate limits raised out of the way."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "PYTHONPATH": str(REPO),
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + secrets.token_hex(24),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            # A per-second window keeps DRF's throttle history short at benchmark rates.
            "CARTASSIST_WIDGET_RATE": "1000000/s",
            "CARTASSIST_SERVER_RATE": "1000000/s",
            "CARTASSIST_SWEEP_IN_PROCESS": "false",
            "CARTASSIST_DEMO_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra)
    return env


def open_database(kind: str) -> BenchDatabase:
    """A fresh, migrated database of ``kind``.

    sqlite: a file in a temporary directory, embedded mode (locmem cache), configured as
    the product configures it (WAL, persistent connections).
    sqlite-default: the same with SQLite's default rollback journal and a connection per
    request (bench/settings.py), for comparison.
    postgres: database ``cartassist_bench`` on 127.0.0.1, with Redis as cache (rate
    limits, signature replay), channel layer and task broker under a key prefix of its
    own: production mode.
    """
    take_run_lock()
    tmpdir = Path(tempfile.mkdtemp(prefix="cartassist-bench-"))
    static_root = tmpdir / "static"
    if kind == "sqlite":
        env = base_env(
            {"SQLITE_PATH": str(tmpdir / "bench.sqlite3"), "STATIC_ROOT": str(static_root)}
        )
        db = BenchDatabase(kind, env, "SQLite (WAL)", _tmpdir=tmpdir)
    elif kind == "sqlite-default":
        env = base_env(
            {
                "SQLITE_PATH": str(tmpdir / "bench.sqlite3"),
                "STATIC_ROOT": str(static_root),
                "BENCH_SQLITE_DEFAULT_JOURNAL": "1",
            }
        )
        db = BenchDatabase(kind, env, "SQLite (default journal)", _tmpdir=tmpdir)
    elif kind == "postgres":
        _postgres_drop(POSTGRES_BENCH_DB)
        _postgres_execute(f'CREATE DATABASE "{POSTGRES_BENCH_DB}"')
        prefix = "cartassist-bench-" + secrets.token_hex(4)
        env = base_env(
            {
                "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{POSTGRES_BENCH_DB}",
                "REDIS_URL": REDIS_URL,
                "CACHE_KEY_PREFIX": prefix,
                "CHANNELS_PREFIX": prefix,
                "CELERY_KEY_PREFIX": prefix + ":",
                "STATIC_ROOT": str(static_root),
            }
        )
        db = BenchDatabase(kind, env, "PostgreSQL + Redis", _tmpdir=tmpdir, _redis_prefix=prefix)
    else:
        raise BenchError(f"unknown database kind {kind!r}")
    try:
        run_django(db.env, "bench.prepare", "migrate")
    except BaseException:
        db.close()
        raise
    return db


def run_django(env: dict[str, str], module: str, *args: str, timeout: float = 900) -> dict:
    """Run ``python -m module args`` with ``env``; its last stdout line is JSON."""
    proc = subprocess.run(
        [PYTHON, "-m", module, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"{module} {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else {}


def check_services(kinds: list[str]) -> None:
    """Fail early, with the fix, when a needed service or tool is missing."""
    if "postgres" in kinds:
        try:
            _postgres_execute("SELECT 1")
        except Exception as exc:  # any failure means "not reachable"
            raise BenchError(f"PostgreSQL is not reachable at 127.0.0.1:5432: {exc}") from exc
        try:
            import redis

            redis.Redis.from_url(REDIS_URL).ping()
        except Exception as exc:
            raise BenchError(f"Redis is not reachable at {REDIS_URL}: {exc}") from exc


def _postgres_execute(sql: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def _postgres_drop(name: str) -> None:
    _postgres_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _redis_delete_prefix(prefix: str) -> None:
    if not prefix:
        return
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a server the bench starts."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(port: int, proc: subprocess.Popen[bytes], why_exited: Callable[[], str]) -> None:
    """Until the server on ``port`` answers /healthz (at most 60 s); ``why_exited`` tells
    what the server printed if it stopped first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"daphne exited: {why_exited()[-2000:]}")
        try:
            url = f"http://127.0.0.1:{port}/healthz"
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise BenchError("daphne did not answer /healthz within 60 s")
