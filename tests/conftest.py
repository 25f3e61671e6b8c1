"""Shared fixtures (re-exported from tests/fixtures, Saleor style) and CI strictness.

In CI (``CARTASSIST_REQUIRE_SERVICES=1``, set by .ci/run) a test that would skip for a
missing service or browser fails instead, so nothing silently stops being tested.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from hypothesis import settings as hypothesis_settings

from tests.fixtures.agents import *  # noqa: F403
from tests.fixtures.carts import *  # noqa: F403
from tests.fixtures.settings import *  # noqa: F403
from tests.fixtures.sites import *  # noqa: F403
from tests.fixtures.smtp import *  # noqa: F403

# Hypothesis fails an example that takes longer than its deadline (200 ms): a timed
# assertion, which a loaded CI machine trips (house rule 7; timings live in bench/).
hypothesis_settings.register_profile("cartassist", deadline=None)
hypothesis_settings.load_profile("cartassist")


def pytest_configure(config: pytest.Config) -> None:
    # The embedded sweep thread must never run inside the test process: tests call
    # stall_sweep() themselves, with a frozen `now`.
    settings.CARTASSIST_SWEEP_IN_PROCESS = False
    # The concurrency tests hold a connection per thread, all at once (a barrier); the
    # bound of DATABASE_POOL_MAX_SIZE is for the served processes, not this test process.
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    if isinstance(pool, dict):
        pool["max_size"] = max(pool["max_size"], 32)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test has a node id of its own, so that pytest-xdist runs each one.

    schemathesis (4.32 on pytest 9.2) names each operation's test ``test_…[GET /path]``
    but gives all of them the function's node id; xdist schedules files by node id and
    would run one operation of the sixteen. An item whose id does not end in its name
    gets the id pytest builds for any other node (parent id + name); a duplicate left
    after that stops the run, so no test is ever dropped silently.
    """
    seen: set[str] = set()
    for item in items:
        if item.nodeid.rsplit("::", 1)[-1] != item.name and item.parent is not None:
            item._id = item.parent.id.child(item.name).with_params(None)  # type: ignore[attr-defined]
        if item.nodeid in seen:
            raise pytest.UsageError(f"two tests share the node id {item.nodeid}")
        seen.add(item.nodeid)


PRODUCTION_MODE_MARKERS = ("postgres", "redis", "production")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked postgres / redis / production belong to production mode.

    Embedded mode (no DATABASE_URL, no REDIS_URL: the README's test command, .ci/run
    phase 1) has nothing for them to run against, so they skip there even in CI; .ci/run
    phase 2 runs them in production mode, where their own require() makes a missing
    service a failure.
    """
    if settings.EMBEDDED and any(item.get_closest_marker(m) for m in PRODUCTION_MODE_MARKERS):
        pytest.skip("production mode only (set DATABASE_URL and REDIS_URL; .ci/run phase 2)")


@pytest.fixture(autouse=True)
def _tasks_in_process(request: pytest.FixtureRequest) -> Any:
    """Celery tasks run in the test process, except in the real-process tests.

    Production mode sends tasks to Redis for a worker; only the tests marked
    ``production`` start one (tests/integration). Every other test runs its tasks eagerly,
    as embedded mode does, so that they happen, and nothing is left queued in Redis.
    """
    from cartassist.celery import app

    if request.node.get_closest_marker("production"):
        yield
        return
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    """Rate-limit and replay state, and process-local caches, must not leak between tests."""
    from django.core.cache import cache

    from cartassist.carts.services.ingest import known_carts_forget
    from cartassist.core.ratelimits import rate_limits_reset_local
    from cartassist.core.stamps import local_caches_clear
    from policies.specs import policy_caches_clear

    cache.clear()
    rate_limits_reset_local()
    local_caches_clear()
    policy_caches_clear()
    known_carts_forget()


def require(condition: bool, why: str) -> None:
    """Skip when a service or browser is missing, except in CI where that is a failure.

    .ci/run sets CARTASSIST_REQUIRE_SERVICES=1: a test that needs PostgreSQL, Redis, a
    Celery worker or Chromium must run there, never silently skip.
    """
    import os

    if condition:
        return
    if os.environ.get("CARTASSIST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required in CI but unavailable: {why}", pytrace=False)
    pytest.skip(why)
