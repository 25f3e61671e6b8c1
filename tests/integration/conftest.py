"""Production-mode fixtures: PostgreSQL, Redis, and the real processes of the Procfile.

Every test here is marked ``postgres``, ``redis`` or ``production``: embedded mode skips
them (tests/conftest.py), and in production mode a missing service is a ``require()``
failure in CI. ``production_stack`` starts the Procfile's ``web`` (gunicorn, WSGI),
``realtime`` (daphne, ASGI), ``worker`` and ``beat`` against the test database and
the test Redis db, and kills their process groups afterwards, whatever happened.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import require

REPO_ROOT = Path(__file__).resolve().parents[2]
PROCFILE = REPO_ROOT / "Procfile"
# The processes enforce this body limit; the tests send just over it.
STACK_MAX_BODY_BYTES = 64 * 1024
STARTUP_DEADLINE_SECONDS = 90


@pytest.fixture
def postgres(db: Any) -> None:
    require(connection.vendor == "postgresql", "needs DATABASE_URL pointing at PostgreSQL")


def redis_is_reachable(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_url() -> str:
    url = settings.REDIS_URL
    require(bool(url) and redis_is_reachable(url), "needs REDIS_URL pointing at a reachable Redis")
    return url


# --- the production stack -----------------------------------------------------------


def procfile_commands(path: Path = PROCFILE) -> dict[str, str]:
    """``name: command`` lines of a Procfile (comments and blank lines ignored)."""
    commands = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)
        if match:
            commands[match.group(1)] = match.group(2).strip()
    return commands


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url(settings_dict: dict[str, Any]) -> str:
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{quote(settings_dict['NAME'], safe='')}"


@dataclass
class Process:
    name: str
    command: str
    log_path: Path
    popen: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Stack:
    """The running Procfile processes and where to reach them."""

    env: dict[str, str]
    log_dir: Path
    web_port: int = 0
    realtime_port: int = 0
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, command: str, **extra_env: str) -> Process:
        log_path = self.log_dir / f"{name}.log"
        log = log_path.open("wb")
        popen = subprocess.Popen(
            ["bash", "-c", command],
            cwd=REPO_ROOT,
            env={**self.env, **extra_env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg takes its children too
        )
        log.close()
        process = Process(name, command, log_path, popen)
        self.processes.append(process)
        return process

    def process(self, name: str) -> Process:
        return next(p for p in self.processes if p.name == name)

    def logs(self) -> str:
        parts = []
        for process in self.processes:
            parts.append(
                f"----- {process.name} (exit {process.popen.poll()}): {process.command}\n"
                f"{process.log()}"
            )
        return "\n".join(parts)

    def assert_running(self) -> None:
        dead = [p.name for p in self.processes if p.popen.poll() is not None]
        assert not dead, f"stack processes exited early: {dead}\n{self.logs()}"

    def stop(self) -> None:
        for process in self.processes:
            _signal_group(process.popen, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            # Children (gunicorn and celery workers) may outlive their parent: always
            # finish the whole group.
            _signal_group(process.popen, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=5)


def _signal_group(popen: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, sig)


def wait_until(
    condition: Callable[[], Any], *, what: str, stack: Stack | None = None, timeout: float = 60
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds.

    A bounded wait, not a timed assertion: the deadline only stops a broken run from
    hanging; a slow machine just waits longer within it.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if stack is not None:
            stack.assert_running()
        if time.monotonic() > deadline:
            logs = stack.logs() if stack is not None else ""
            pytest.fail(f"gave up after {timeout:.0f} s waiting for {what}\n{logs}")
        time.sleep(0.2)


def http_get_status(port: int, path: str) -> int | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None


def stack_env(
    settings_dict: dict[str, Any], log_dir: Path, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of a stack process: production mode against the test database."""
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        # The very database this test process uses (pytest-django's test_<name>).
        "DATABASE_URL": database_url(settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP here; TLS ends at the proxy in production
        "CARTASSIST_SWEEP_INTERVAL_SECONDS": "1",
        "CARTASSIST_MAX_BODY_BYTES": str(STACK_MAX_BODY_BYTES),
        "CELERY_BEAT_SCHEDULE_FILE": str(log_dir / "celerybeat-schedule"),
        "STATIC_ROOT": str(log_dir / "static"),
        **(extra or {}),
    }
    env.pop("CARTASSIST_SWEEP_IN_PROCESS", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


@pytest.fixture(scope="module")
def stack_extra_env() -> dict[str, str]:
    """Extra environment for the stack's processes; a test module overrides it."""
    return {}


@pytest.fixture(scope="module")
def _stack_processes(
    django_db_setup: Any,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
    stack_extra_env: dict[str, str],
) -> Iterator[Stack]:
    """The Procfile's processes against the test database: started once per module."""
    commands = procfile_commands()
    log_dir = tmp_path_factory.mktemp("stack-logs")
    with django_db_blocker.unblock():
        settings_dict = dict(connection.settings_dict)
    env = stack_env(settings_dict, log_dir, stack_extra_env)
    stack = Stack(env=env, log_dir=log_dir)
    try:
        release = subprocess.run(  # noqa: S602 - a Procfile line is a shell command
            commands["release"],
            shell=True,
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert release.returncode == 0, f"release failed:\n{release.stdout}\n{release.stderr}"
        stack.web_port, stack.realtime_port = free_port(), free_port()
        stack.start("web", commands["web"], PORT=str(stack.web_port))
        stack.start("realtime", commands["realtime"], PORT=str(stack.realtime_port))
        stack.start("worker", commands["worker"])
        stack.start("beat", commands["beat"])
        for port in (stack.web_port, stack.realtime_port):
            wait_until(
                lambda port=port: http_get_status(port, "/healthz") == 200,
                what=f"/healthz on port {port}",
                stack=stack,
                timeout=STARTUP_DEADLINE_SECONDS,
            )
        yield stack
    finally:
        stack.stop()
        with django_db_blocker.unblock():
            _disconnect_others(settings_dict["NAME"])


def _disconnect_others(database: str) -> None:
    """Killed processes' sessions may linger for a moment; pytest-django must be able to
    drop the test database at the end of the session."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [database],
        )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True, scope="session")
def _flush_retries_a_deadlock() -> Iterator[None]:
    """The stack's worker and beat run on between tests (``_stack_processes`` is
    module-scoped), so the flush that empties the database after a test can meet a sweep
    holding row locks; PostgreSQL then aborts one of the two with "deadlock detected".
    When it aborts the flush, the sweep has gone on and the flush is run again: a race of
    the test harness, not of the product (the sweep's own transaction is retried by the
    next beat)."""
    from django.core.management.base import CommandError
    from django.core.management.commands import flush

    original = flush.Command.handle

    def handle(self: flush.Command, *args: Any, **options: Any) -> Any:
        for attempt in range(1, 4):
            try:
                return original(self, *args, **options)
            except CommandError as error:
                if attempt == 3 or "deadlock detected" not in str(error.__cause__):
                    raise
                time.sleep(0.2 * attempt)
        return None

    flush.Command.handle = handle  # type: ignore[method-assign]
    try:
        yield
    finally:
        flush.Command.handle = original  # type: ignore[method-assign]


@pytest.fixture
def production_stack(
    request: pytest.FixtureRequest, transactional_db: Any, redis_url: str
) -> Iterator[Stack]:
    """The running stack; its logs are printed when the test fails."""
    require(connection.vendor == "postgresql", "needs DATABASE_URL pointing at PostgreSQL")
    stack: Stack = request.getfixturevalue("_stack_processes")
    yield stack
    report = getattr(request.node, "report_call", None)
    if report is None or report.failed:
        sys.stdout.write(f"\nproduction stack logs ({shlex.quote(str(stack.log_dir))}):\n")
        sys.stdout.write(stack.logs())


@pytest.fixture
def start_process(
    request: pytest.FixtureRequest, transactional_db: Any, tmp_path: Path
) -> Iterator[Callable[..., tuple[Stack, int]]]:
    """Start one Procfile line (``web`` or ``realtime``) on a free port against the test
    database, with extra environment; returns ``(stack, port)`` once /healthz answers.
    Everything started is stopped at the end of the test (its logs printed on failure)."""
    require(connection.vendor == "postgresql", "needs DATABASE_URL pointing at PostgreSQL")
    commands = procfile_commands()
    settings_dict = dict(connection.settings_dict)
    stacks: list[Stack] = []

    def start(name: str, **extra_env: str) -> tuple[Stack, int]:
        stack = Stack(env=stack_env(settings_dict, tmp_path, extra_env), log_dir=tmp_path)
        stacks.append(stack)
        port = free_port()
        stack.start(f"{name}-{len(stacks)}", commands[name], PORT=str(port))
        wait_until(
            lambda: http_get_status(port, "/healthz") == 200,
            what=f"/healthz of {name} on port {port}",
            stack=stack,
            timeout=STARTUP_DEADLINE_SECONDS,
        )
        return stack, port

    try:
        yield start
    finally:
        for stack in stacks:
            stack.stop()
        _disconnect_others(settings_dict["NAME"])
        report = getattr(request.node, "report_call", None)
        if stacks and (report is None or report.failed):
            sys.stdout.write("\nprocess logs:\n" + "\n".join(s.logs() for s in stacks))
