"""PostgreSQL for hot paths on the event loop: psycopg's async driver with a pool
(ADR 0017, docs/SETTINGS.md ``DATABASE_ASYNC_POOL_*``).

Django's ORM runs every database call of a daphne process on one thread (asgiref's
thread-sensitive executor), so one slow query holds up every socket of the process. The
chat's message send (``agents.services.conversations.conversation_message_send``) runs
its one statement here instead: on the event loop, on a connection of a pool of at most
``DATABASE_ASYNC_POOL_MAX_SIZE``, in autocommit (the statement is its own transaction),
prepared by the server after its first uses.

- One pool per event loop (daphne has one; tests get a loop each); it opens on first use
  and is closed before its loop closes.
- Connections are not checked before each use (that would be one more round trip per
  message). A connection that turns out broken is dropped by the pool and the caller's
  statement is run once more on a fresh one: callers only run statements that are safe to
  repeat (the message send is idempotent by its client message id).
- ``available()`` is false on SQLite and when ``DATABASE_ASYNC_POOL_MAX_SIZE`` is 0: the
  caller then uses its ORM path through ``database_sync_to_async``.
"""

from __future__ import annotations

import asyncio
import logging
import types
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections
from psycopg_pool import AsyncConnectionPool

logger = logging.getLogger(__name__)

_pools: dict[asyncio.AbstractEventLoop, asyncio.Task[AsyncConnectionPool]] = {}
# Connection parameters of Django's that psycopg's connect() does not take.
_DJANGO_ONLY = ("cursor_factory", "pool", "server_side_binding", "prepare_threshold")

Params = Sequence[Any] | Mapping[str, Any]


def available() -> bool:
    """Whether hot paths may use the async pool (PostgreSQL, pool size above 0)."""
    return (
        settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
        and getattr(settings, "DATABASE_ASYNC_POOL_MAX_SIZE", 0) > 0
    )


def _connection_kwargs() -> dict[str, Any]:
    params = dict(connections["default"].get_connection_params())
    for key in _DJANGO_ONLY:
        params.pop(key, None)
    # Server-side prepared statements after a few executions: the hot statements skip
    # parsing and planning from then on (a negative setting turns them off).
    threshold = settings.DATABASE_ASYNC_PREPARE_THRESHOLD
    params["prepare_threshold"] = threshold if threshold >= 0 else None
    params["autocommit"] = True
    return params


def _close_with_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close the loop's pool before the loop itself closes (as channels-redis does for
    its layers), so that no connection outlives it."""
    original = loop.close

    def close(self: asyncio.AbstractEventLoop) -> None:
        opening = _pools.pop(loop, None)
        if opening is not None and not loop.is_running():
            loop.run_until_complete(_close(opening))
        self.close = original  # type: ignore[method-assign]
        self.close()

    loop.close = types.MethodType(close, loop)  # type: ignore[method-assign]


async def _open() -> AsyncConnectionPool:
    created = AsyncConnectionPool(
        kwargs=_connection_kwargs(),
        min_size=min(settings.DATABASE_ASYNC_POOL_MIN_SIZE, settings.DATABASE_ASYNC_POOL_MAX_SIZE),
        max_size=settings.DATABASE_ASYNC_POOL_MAX_SIZE,
        timeout=settings.DATABASE_ASYNC_POOL_TIMEOUT_SECONDS,
        max_idle=settings.DATABASE_ASYNC_POOL_MAX_IDLE_SECONDS,
        name="cartassist-async",
        open=False,
    )
    await created.open()
    return created


async def _close(opening: asyncio.Task[AsyncConnectionPool]) -> None:
    try:
        opened = await opening
    except BaseException:
        return
    idle = list(opened._pool)  # the pool's idle connections (psycopg_pool keeps them here)
    try:
        await opened.close(timeout=1.0)
    except BaseException:
        # The loop's tasks, the pool's workers among them, were cancelled already
        # (asyncio.Runner does that before it closes the loop): close what they held.
        for conn in idle:
            await conn.close()


async def pool() -> AsyncConnectionPool:
    """The running loop's pool, opened on first use (once, however many tasks ask)."""
    loop = asyncio.get_running_loop()
    opening = _pools.get(loop)
    if opening is None:
        opening = _pools[loop] = loop.create_task(_open())
        _close_with_loop(loop)
    try:
        return await asyncio.shield(opening)
    except Exception:
        if _pools.get(loop) is opening:
            del _pools[loop]  # the next use tries again
        raise


async def pools_close() -> None:
    """Close the running loop's pool (tests; a process that stops serving)."""
    opening = _pools.pop(asyncio.get_running_loop(), None)
    if opening is not None:
        await _close(opening)


async def fetch(sql: str, params: Params) -> list[tuple[Any, ...]]:
    """Run one statement (its own transaction) and return its rows; once more on a fresh
    connection when the first one was broken. Only for statements safe to repeat."""
    for attempt in (1, 2):
        async with (await pool()).connection() as conn:
            try:
                cursor = await conn.execute(sql, params)
                return await cursor.fetchall() if cursor.description else []
            except psycopg.OperationalError:
                if attempt == 2 or not conn.broken:
                    raise
                logger.warning("async pool: broken connection, statement run again")
    raise AssertionError("unreachable")
