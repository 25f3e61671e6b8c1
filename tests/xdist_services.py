"""A pytest plugin (``-p tests.xdist_services``, pyproject.toml): each pytest-xdist worker
gets its own Redis database.

Loaded before pytest-django imports the settings, so ``cartassist.settings`` reads the
worker's ``REDIS_URL``. Without it, two workers in production mode would share one Redis
database, and one test's ``cache.clear()`` (a FLUSHDB) would wipe another's rate-limit
and replay state mid-test. PostgreSQL needs nothing: pytest-django gives each worker its
own test database (``test_<name>_gw0``, …). Embedded mode has no Redis, so nothing
changes there, and a run without xdist is left alone.
"""

from __future__ import annotations

import contextlib
import os
import re

REDIS_DATABASES = 16  # Redis' default `databases`
RESERVED = 2  # 0 and 1 are for people working by hand (.ci/run uses 2–15 too)


def worker_redis_url(url: str, worker: str) -> str:
    """``redis://host:port/N`` for worker ``gwK``: database N+1+K, kept within 2–15."""
    index = int(worker.removeprefix("gw"))
    match = re.fullmatch(r"(rediss?://[^/]+)(?:/(\d+))?(\?.*)?", url)
    if match is None:
        return url  # a form this plugin does not know (a socket path): leave it
    base = int(match.group(2) or 0)
    span = REDIS_DATABASES - RESERVED
    database = RESERVED + (base - RESERVED + 1 + index) % span
    return f"{match.group(1)}/{database}{match.group(3) or ''}"


_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker and os.environ.get("REDIS_URL"):
    os.environ["REDIS_URL"] = worker_redis_url(os.environ["REDIS_URL"], _worker)


def _flush_worker_database() -> None:
    """The worker's database starts and ends empty (.ci/run flushes only its own)."""
    import redis  # only in production mode, where it is installed and Redis is up

    # Redis down: the tests that need it say so themselves (require()).
    with contextlib.suppress(redis.RedisError):
        redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=2).flushdb()


def pytest_configure() -> None:
    if _worker and os.environ.get("REDIS_URL"):
        _flush_worker_database()


def pytest_unconfigure() -> None:
    if _worker and os.environ.get("REDIS_URL"):
        _flush_worker_database()
