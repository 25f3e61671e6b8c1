"""Real processes for the live-delivery tests: a private ``redis-server`` that a test may
stop and restart, and daphne processes pointed at it.

Never the shared Redis: a test that takes Redis down takes down only its own. The
daphne processes use the test database (pytest-django's ``test_<name>``) and the
private Redis as channel layer, cache and broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import require
from tests.fixtures.sites import SHOP_ORIGIN

from .conftest import (
    REPO_ROOT,
    STARTUP_DEADLINE_SECONDS,
    Stack,
    _disconnect_others,
    database_url,
    free_port,
    http_get_status,
    procfile_commands,
    wait_until,
)

CONSOLE_ORIGIN = "http://localhost"
# Bounds on waiting: they stop a broken run, they do not time anything.
FRAME_WAIT = 30


class PrivateRedis:
    """A ``redis-server`` of this test only, on its own port, that can be stopped and
    started again on the same port (no persistence: a restart starts empty, as a
    crashed Redis would)."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        require(binary is not None, "needs redis-server on PATH for a private Redis")
        assert binary is not None
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(  # noqa: S603 - a fixed command line
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until(self.answers, what=f"the private Redis on port {self.port}", timeout=30)

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)
        self.popen = None


@dataclass
class Realtime:
    """daphne processes against the test database and a private Redis."""

    stack: Stack
    redis: PrivateRedis
    ports: list[int] = field(default_factory=list)

    def logs(self) -> str:
        return self.stack.logs()


@contextlib.contextmanager
def realtime_processes(
    django_db_blocker: Any,
    log_dir: Path,
    *,
    daphnes: int,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Realtime]:
    """Start a private Redis and ``daphnes`` daphne processes; stop them all at the end."""
    require(connection.vendor == "postgresql", "needs DATABASE_URL pointing at PostgreSQL")
    with django_db_blocker.unblock():
        settings_dict = dict(connection.settings_dict)
    redis = PrivateRedis(log_dir)
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DATABASE_URL": database_url(settings_dict),
        "REDIS_URL": redis.url,
        # The test process signs visitor tokens and sessions: the same key.
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_ROOT": str(log_dir / "static"),
        # The tests drive many messages per socket; the per-socket burst is not under test.
        "CARTASSIST_SOCKET_MESSAGE_BURST": "10000",
        **(extra_env or {}),
    }
    env.pop("CARTASSIST_SWEEP_IN_PROCESS", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    stack = Stack(env=env, log_dir=log_dir)
    realtime = Realtime(stack=stack, redis=redis)
    try:
        redis.start()
        command = procfile_commands()["realtime"]  # what production runs
        for number in range(daphnes):
            port = free_port()
            stack.start(f"realtime-{number + 1}", command, PORT=str(port))
            realtime.ports.append(port)
        for port in realtime.ports:
            wait_until(
                lambda port=port: http_get_status(port, "/healthz") == 200,
                what=f"/healthz on daphne port {port}",
                stack=stack,
                timeout=STARTUP_DEADLINE_SECONDS,
            )
        yield realtime
    finally:
        stack.stop()
        redis.stop()
        with django_db_blocker.unblock():
            _disconnect_others(settings_dict["NAME"])


# --- clients ------------------------------------------------------------------------------


def session_cookie(user: User) -> str:
    """A logged-in console session (sessions live in the database daphne reads)."""
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def open_widget(port: int, token: str) -> ClientConnection:
    return await connect(
        f"ws://127.0.0.1:{port}/ws/widget/?token={quote(token)}",
        origin=SHOP_ORIGIN,  # type: ignore[arg-type]
        proxy=None,
        ping_interval=None,
        open_timeout=FRAME_WAIT,
        max_size=None,
    )


async def open_console(port: int, cookie: str) -> ClientConnection:
    return await connect(
        f"ws://127.0.0.1:{port}/ws/console/",
        origin=CONSOLE_ORIGIN,  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie},
        proxy=None,
        ping_interval=None,
        open_timeout=FRAME_WAIT,
        max_size=None,
    )


class Recorder:
    """One client socket: records every frame; ``seqs[conversation_id]`` is every
    message seq it received for that conversation, in the order received."""

    def __init__(self, name: str, ws: ClientConnection) -> None:
        self.name = name
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.seqs: dict[int, list[int]] = {}
        self.closed_code: int | None = None
        self._changed = asyncio.Event()
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                self.frames.append(frame)
                if frame["type"] == "message":
                    self.seqs.setdefault(frame["conversation_id"], []).append(
                        frame["message"]["seq"]
                    )
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed_code = self.ws.close_code
            self._changed.set()

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def wait_for(self, predicate: Any, what: str, *, timeout: float = FRAME_WAIT) -> Any:
        """Wait until ``predicate(self)`` is truthy (checked after every frame)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"{self.name}: gave up waiting for {what}; frames: {self.frames[-20:]}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))

    def first(self, frame_type: str, **fields: Any) -> dict[str, Any] | None:
        for frame in self.frames:
            if frame["type"] == frame_type and all(frame.get(k) == v for k, v in fields.items()):
                return frame
        return None

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(Exception):
            await self._task


__all__ = [
    "FRAME_WAIT",
    "REPO_ROOT",
    "PrivateRedis",
    "Realtime",
    "Recorder",
    "open_console",
    "open_widget",
    "realtime_processes",
    "session_cookie",
]
