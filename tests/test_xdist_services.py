"""The xdist plugin gives each worker its own Redis database (tests/xdist_services.py)."""

from __future__ import annotations

import pytest

from tests.xdist_services import worker_redis_url


@pytest.mark.parametrize(
    ("url", "worker", "expected"),
    [
        ("redis://127.0.0.1:6379/5", "gw0", "redis://127.0.0.1:6379/6"),
        ("redis://127.0.0.1:6379/5", "gw1", "redis://127.0.0.1:6379/7"),
        # Wraps within 2–15: 0 and 1 are left to people working by hand.
        ("redis://127.0.0.1:6379/15", "gw0", "redis://127.0.0.1:6379/2"),
        ("redis://127.0.0.1:6379", "gw0", "redis://127.0.0.1:6379/15"),
        (
            "rediss://user:pw@host:1/3?ssl_cert_reqs=none",
            "gw2",
            "rediss://user:pw@host:1/6?ssl_cert_reqs=none",
        ),
        ("unix:///run/redis.sock", "gw0", "unix:///run/redis.sock"),
    ],
)
def test_each_worker_gets_its_own_database(url: str, worker: str, expected: str) -> None:
    assert worker_redis_url(url, worker) == expected


def test_workers_never_share_a_database() -> None:
    urls = {worker_redis_url("redis://h:6379/9", f"gw{k}") for k in range(8)}
    assert len(urls) == 8
    assert "redis://h:6379/9" not in urls
