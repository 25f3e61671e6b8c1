"""``CELERY_KEY_PREFIX``: every broker key of an installation under its own prefix, so
that installations sharing one Redis database never take each other's tasks
(docs/SETTINGS.md). A task sent with the prefix lands in the prefixed queue only, and a
real worker started with the same prefix takes it from there."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.db import connection

from tests.conftest import require
from tests.integration.conftest import (
    REPO_ROOT,
    Stack,
    procfile_commands,
    stack_env,
    wait_until,
)

pytestmark = [pytest.mark.production, pytest.mark.django_db(transaction=True)]

# A task no worker knows: a worker that receives it logs it and drops it (no side effect).
TASK = "cartassist.tests.key_prefix_probe"


def send_task(env: dict[str, str]) -> None:
    code = f"from cartassist.celery import app\napp.send_task({TASK!r})\n"
    sent = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert sent.returncode == 0, sent.stderr


def test_a_task_goes_to_the_prefixed_queue_and_a_worker_with_the_prefix_takes_it(
    redis_url: str, tmp_path: Path
) -> None:
    # given: an installation's environment with a key prefix of its own
    require(connection.vendor == "postgresql", "needs DATABASE_URL pointing at PostgreSQL")
    prefix = f"cartassist-test-{secrets.token_hex(4)}:"
    env = stack_env(dict(connection.settings_dict), tmp_path, {"CELERY_KEY_PREFIX": prefix})
    client = redis.Redis.from_url(redis_url)
    unprefixed_before = client.llen("celery")
    try:
        # when: it sends a task
        send_task(env)
        # then: the task waits in the prefixed queue, and the shared queue is as it was
        assert client.llen(f"{prefix}celery") == 1
        assert client.llen("celery") == unprefixed_before
        assert client.exists(f"{prefix}_kombu.binding.celery")  # kombu's own keys too
        # when: a worker of the same installation starts
        stack = Stack(env=env, log_dir=tmp_path)
        try:
            stack.start("worker", procfile_commands()["worker"])
            # then: it takes the task from the prefixed queue (and drops it: unknown)
            wait_until(
                lambda: client.llen(f"{prefix}celery") == 0,
                what="the prefixed queue emptied by the worker",
                stack=stack,
                timeout=60,
            )
            wait_until(
                lambda: TASK in stack.logs(),
                what="the worker's log of the task it received",
                stack=stack,
                timeout=30,
            )
        finally:
            stack.stop()
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
