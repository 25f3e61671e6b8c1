"""Browser fixtures: Debian's Chromium driven by Playwright, against a live server.

Nothing is downloaded: Playwright drives /usr/bin/chromium. Without it (or without the
playwright package) the browser tests skip locally and fail in CI (tests/conftest.py).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test.utils import override_settings

from tests.conftest import require
from tests.e2e.journeys import RECORD_EVENTS
from tests.fixtures.settings import FAST_PASSWORD_HASHERS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# The live server speaks plain HTTP on localhost; in production mode the settings would
# redirect it to HTTPS and keep cookies off it. And the demo must be mounted.
E2E_SETTINGS: dict[str, Any] = {
    "ROOT_URLCONF": "tests.e2e.urls",
    "CARTASSIST_DEMO_ENABLED": True,
    "SECURE_SSL_REDIRECT": False,
    "SESSION_COOKIE_SECURE": False,
    "CSRF_COOKIE_SECURE": False,
    # The live server runs in this process: the fast hasher of the tests applies there too.
    "PASSWORD_HASHERS": FAST_PASSWORD_HASHERS,
    # No collectstatic in tests: serve static files by their plain names.
    "STORAGES": {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    },
}


@pytest.fixture(scope="module")
def _e2e_settings() -> Iterator[None]:
    with override_settings(
        **E2E_SETTINGS, ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "localhost", "127.0.0.1"]
    ):
        yield


@pytest.fixture(scope="module")
def _allow_orm_beside_playwright() -> Iterator[None]:
    """Playwright's sync API runs an event loop on the test's thread, so Django would
    refuse ORM calls from the test ("async context"). The test code is synchronous;
    allow it for the duration of this module only."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def shop_server(_e2e_settings: None, django_db_setup: Any, django_db_blocker: Any) -> Iterator[Any]:
    """A live server for this module, started after the settings above apply (its
    middleware reads them once, at start)."""
    from django.core.signals import request_finished, request_started
    from pytest_django.live_server_helper import LiveServer

    with django_db_blocker.unblock():
        server = LiveServer("localhost")
    request_started.connect(LIVE_REQUESTS.started, weak=False)
    request_finished.connect(LIVE_REQUESTS.done, weak=False)
    LIVE_REQUESTS.serving = True
    yield server
    LIVE_REQUESTS.serving = False
    request_started.disconnect(LIVE_REQUESTS.started)
    request_finished.disconnect(LIVE_REQUESTS.done)
    server.stop()


@pytest.fixture(scope="module")
def browser(_allow_orm_beside_playwright: None) -> Iterator[Any]:
    require(Path(CHROMIUM).exists(), f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - depends on the machine
        require(False, "the playwright package is not installed (pip install -e '.[dev]')")
        raise
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)  # a loaded CI machine; the default is 5 s
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context per test: its own cookies and localStorage."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    warnings: list[str] = []
    page.on(
        "console",
        lambda message: warnings.append(message.text) if message.type == "warning" else None,
    )
    page.console_warnings = warnings  # type: ignore[attr-defined]
    yield page
    # Events still queued would leave in a page-hide beacon as the context closes, and
    # the server would store them while the database is being flushed for the next test.
    if page.url.startswith("http"):
        page.evaluate("() => { try { localStorage.clear(); } catch (e) {} }")
    context.close()
    # A request the page sent just before it closed may still be in the live server.
    # The database is flushed after this fixture; with in-memory SQLite the server and
    # the flush share one connection ("cannot open savepoint - SQL statements in
    # progress"), so let the server finish first.
    LIVE_REQUESTS.wait_idle()


class ServerRequests:
    """What the live server has handled, from Django's request signals.

    The test waits on this instead of polling the database: with in-memory SQLite the
    test and the server share one connection, which must not be used by both at once.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._paths: dict[int, str] = {}
        self.finished: list[str] = []
        self.serving = False  # only LIVE_REQUESTS: a live server in this process is up

    @property
    def in_flight(self) -> int:
        return len(self._paths)

    def started(self, sender: Any, environ: dict[str, Any], **kwargs: Any) -> None:
        with self._changed:
            self._paths[threading.get_ident()] = environ.get("PATH_INFO", "")

    def done(self, sender: Any, **kwargs: Any) -> None:
        with self._changed:
            path = self._paths.pop(threading.get_ident(), None)
            if path is not None:
                self.finished.append(path)
                self._changed.notify_all()

    def count(self, path: str) -> int:
        return self.finished.count(path)

    def wait(self, condition: Callable[[ServerRequests], bool], what: str) -> None:
        """Wait until ``condition`` holds and no request is being handled."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: condition(self) and not self._paths, timeout=WAIT_SECONDS
            ):
                pytest.fail(f"the live server never got to: {what} (handled {self.finished})")

    def wait_idle(self, quiet: float = 0.15) -> None:
        """Wait until no request has been in the server for ``quiet`` seconds: one the
        browser wrote just before closing may not have reached the server's thread yet."""
        if not self.serving:
            return
        deadline = time.monotonic() + WAIT_SECONDS
        with self._changed:
            while time.monotonic() < deadline:
                if self._changed.wait_for(lambda: not self._paths, timeout=WAIT_SECONDS):
                    settled = len(self.finished)
                    self._changed.wait(timeout=quiet)
                    if not self._paths and len(self.finished) == settled:
                        return
        pytest.fail(f"the live server kept handling requests ({sorted(self._paths.values())})")


WAIT_SECONDS = 15
# Every request the module's live server (``shop_server``) handles, from its start.
LIVE_REQUESTS = ServerRequests()


@pytest.fixture
def server_requests(shop_server: Any) -> Iterator[ServerRequests]:
    from django.core.signals import request_finished, request_started

    requests = ServerRequests()
    request_started.connect(requests.started, weak=False)
    request_finished.connect(requests.done, weak=False)
    yield requests
    request_started.disconnect(requests.started)
    request_finished.disconnect(requests.done)


# --- an ASGI server (HTTP + WebSockets) in its own process, for the chat ---------------


class ChatServer:
    """``daphne`` serving the project in embedded mode on a temporary SQLite file, with
    the stall sweep in the same process (the in-memory channel layer reaches only that
    process's sockets). The test reads the database file directly (``rows``)."""

    def __init__(self, url: str, database: Path, log: Path) -> None:
        self.url = url
        self.database = database
        self.log = log

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        import sqlite3

        connection = sqlite3.connect(self.database, timeout=10)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    def manage(self, env: dict[str, str], *args: str) -> None:
        import subprocess
        import sys

        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT_ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )


PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Shorter than the demo's 20 s, so a browser test can wait for a real stall.
CHAT_SERVER_SETUP = """
from decimal import Decimal
from datetime import timedelta
from cartassist.models import Site, StallRule
site = Site.objects.get(public_key="pk_demo_storefront")
site.holdout_share = Decimal("0")
site.save()
StallRule.objects.filter(site=site, stage="shipping").update(
    inactivity_threshold=timedelta(seconds=2)
)
"""


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    """The demo as `manage.py demo` sets it up (site, agent login, copy), served by daphne
    with a 1 s sweep; the shipping stall threshold is 2 s and nobody is held out."""
    yield from serve_chat(tmp_path_factory)


def serve_chat(
    tmp_path_factory: pytest.TempPathFactory,
    *,
    extra_env: dict[str, str] | None = None,
    setup: str = "",
) -> Iterator[ChatServer]:
    """``chat_server``'s body, for a module that needs more settings (``extra_env``) or
    more set-up code (``setup``, run by ``manage.py shell`` after the demo's; ``$URL`` in
    it is the server's address)."""
    import shutil
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    require(
        shutil.which("daphne", path=str(Path(sys.executable).parent)) is not None,
        "daphne is not installed",
    )
    directory = tmp_path_factory.mktemp("chat-server")
    database = directory / "db.sqlite3"
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DEBUG"}
        and not key.startswith(("CARTASSIST_", "SECURE_", "SESSION_", "CSRF_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "cartassist.settings",
            "SQLITE_PATH": str(database),
            "STATIC_ROOT": str(directory / "static"),
            "DEBUG": "true",
            "CARTASSIST_DEMO_ENABLED": "true",
            "CARTASSIST_SWEEP_IN_PROCESS": "true",
            "CARTASSIST_SWEEP_INTERVAL_SECONDS": "1",
            "CARTASSIST_HOUSEKEEPING_INTERVAL_SECONDS": "1",
            "CARTASSIST_AGENT_AVAILABILITY": "agents.services.presence.agent_with_free_capacity",
            **(extra_env or {}),
        }
    )
    server = ChatServer(f"http://127.0.0.1:{port}", database, directory / "daphne.log")
    _demo_database_copy(tmp_path_factory, env, database)
    # The demo site's origins are this server's (demo_seed: these three).
    origins = [server.url, f"http://localhost:{port}", f"http://127.0.0.1:{port}"]
    own_origins = (
        "from cartassist.models import Site\n"
        f"Site.objects.filter(public_key='pk_demo_storefront').update(allowed_origins={origins!r})\n"
    )
    server.manage(
        env, "shell", "-c", own_origins + CHAT_SERVER_SETUP + setup.replace("$URL", server.url)
    )
    daphne = str(Path(sys.executable).parent / "daphne")
    with server.log.open("wb") as log:
        process = subprocess.Popen(
            [daphne, "-b", "127.0.0.1", "-p", str(port), "cartassist.asgi:application"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(server.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("daphne did not start:\n" + server.log.read_text()[-4000:])
            time.sleep(0.1)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# Per test process: the demo's database as `manage.py demo` leaves it, by environment.
_DEMO_TEMPLATES: dict[tuple[str, frozenset[tuple[str, str]]], Path] = {}


def _demo_database_copy(
    tmp_path_factory: pytest.TempPathFactory, env: dict[str, str], database: Path
) -> None:
    """``database``: the demo as `manage.py demo` sets it up (migrated, seeded, no
    simulated history: the journeys count rows), copied from a template made once per
    test process and environment. Migrating and seeding took about 8 s per server."""
    import sqlite3

    per_server = {"SQLITE_PATH", "STATIC_ROOT", "PYTEST_CURRENT_TEST"}
    settings_env = frozenset((key, value) for key, value in env.items() if key not in per_server)
    key = (str(tmp_path_factory.getbasetemp()), settings_env)
    template = _DEMO_TEMPLATES.get(key)
    if template is None:
        directory = tmp_path_factory.mktemp("demo-template")
        template = directory / "db.sqlite3"
        template_env = {
            **env,
            "SQLITE_PATH": str(template),
            "STATIC_ROOT": str(directory / "static"),
        }
        ChatServer("", template, directory / "unused.log").manage(
            template_env, "demo", "--no-serve", "--simulated-shoppers", "0"
        )
        _DEMO_TEMPLATES[key] = template
    source, target = sqlite3.connect(template), sqlite3.connect(database)
    try:
        source.backup(target)  # a consistent copy, whatever the journal mode
    finally:
        source.close()
        target.close()


@pytest.fixture
def two_contexts(browser: Any) -> Iterator[tuple[Any, Any]]:
    """The agent's browser and the shopper's: separate cookies and storage."""
    agent = browser.new_context(viewport={"width": 1280, "height": 900})
    shopper = browser.new_context(viewport={"width": 1100, "height": 900})
    for context in (agent, shopper):
        context.set_default_timeout(15_000)
    shopper.add_init_script(RECORD_EVENTS)  # tests/e2e/journeys.py
    yield agent, shopper
    shopper.close()
    agent.close()
