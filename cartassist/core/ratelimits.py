"""Rate limits counted in one store that every process shares (docs/adr/0012).

``rate_limit_hit`` applies the fixed-window rule of ``cartassist.domain.ratelimit`` to a
key in one atomic step:

- **production** (the Django cache is Redis): one Lua script reads the window, counts the
  hit and writes it back inside Redis, so two gunicorn workers (or daphne processes, or
  hosts) can never both take the last hit of a window; one command per hit (``EVALSHA``);
- **embedded** (local-memory cache, one process): the same rule under a process lock, the
  windows kept in that cache (so ``cache.clear()`` forgets them, as it does in Redis).

If Redis cannot be reached, the hit is counted in the process's own memory instead and a
warning is logged: for the outage, each process enforces the limit on its own (at most
``processes × limit``), and requests keep being served. Limits protect against floods;
they must not turn a Redis blip into an outage of event ingestion.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import threading
import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.connection import Connection, ConnectionPool
from redis.exceptions import NoScriptError, RedisError

from cartassist.domain.ratelimit import Decision, Window, decide, window_hit

logger = logging.getLogger(__name__)

# KEYS[1]: the window hash {s: start, n: count}. ARGV: now, period (seconds, may be
# fractional). Mirrors cartassist.domain.ratelimit.window_hit; returns {count, start},
# the start as a string (Lua numbers would reach Python truncated to integers).
_WINDOW_HIT = """
local start = redis.call('HGET', KEYS[1], 's')
local now = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
if (not start) or now >= tonumber(start) + period then
  redis.call('HSET', KEYS[1], 's', ARGV[1], 'n', 1)
  redis.call('PEXPIRE', KEYS[1], math.ceil(period * 1000))
  return {1, ARGV[1]}
end
return {redis.call('HINCRBY', KEYS[1], 'n', 1), start}
"""

# Seconds between two "Redis unavailable" warnings of one process.
_WARN_EVERY = 10.0


class _LocalWindows:
    """Windows in this process's memory, behind one lock: the fallback while Redis is
    unreachable."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[Window, float]] = {}  # key -> (window, period)

    def hit(self, key: str, *, now: float, period: float) -> Window:
        with self._lock:
            if len(self._windows) > 10_000:
                self._forget_ended(now)
            old = self._windows.get(key)
            window = window_hit(old[0] if old else None, now=now, period=period)
            self._windows[key] = (window, period)
            return window

    def _forget_ended(self, now: float) -> None:
        ended = [k for k, (w, p) in self._windows.items() if now >= w.start + p]
        for key in ended:
            del self._windows[key]

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()


_local = _LocalWindows()
_cache_lock = threading.Lock()
_last_warning = -_WARN_EVERY
# The window script is sent by its SHA-1 (EVALSHA), its text only when Redis does not
# have it yet (NOSCRIPT: first use, or after a Redis restart): one command per hit.
_WINDOW_HIT_SHA = hashlib.sha1(_WINDOW_HIT.encode()).hexdigest()  # noqa: S324  # Redis's id


def rate_limit_hit(*, key: str, limit: int, period: float, now: float | None = None) -> Decision:
    """Count one hit of ``key`` and say whether it is within ``limit`` per ``period``
    seconds. ``now`` (Unix seconds) defaults to the clock; the window's start is the
    caller's clock, so tests may move time.

    1. Redis cache: the Lua script counts the hit atomically in Redis; when Redis fails,
       the process-local windows count it.
    2. Any other cache (embedded mode's local memory): read, count and write under a lock.
    3. The pure rule decides from the window as it stands after this hit.
    """
    return rate_limit_send(key=key, limit=limit, period=period, now=now).decision()


def rate_limit_send(*, key: str, limit: int, period: float, now: float | None = None) -> PendingHit:
    """``rate_limit_hit`` in two steps: the hit is sent to Redis now and its answer read
    by ``decision()``, so the caller can do other work while Redis answers (the event
    endpoints validate the batch meanwhile). ``decision()`` must be called (it hands the
    Redis connection back)."""
    now = time.time() if now is None else now
    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        full_key = f"ratelimit:{key}"
        with _cache_lock:
            window = window_hit(cache.get(full_key), now=now, period=period)
            cache.set(full_key, window, timeout=max(1, math.ceil(period)))
        return PendingHit(key=key, limit=limit, period=period, now=now, window=window)
    return _redis_send(cache, key, limit=limit, period=period, now=now)


class PendingHit:
    """A hit whose window is known (``window``) or is on its way from Redis (sent on
    ``connection`` of ``pool`` with ``args``). When Redis fails, the process-local
    windows count the hit."""

    def __init__(
        self,
        *,
        key: str,
        limit: int,
        period: float,
        now: float,
        window: Window | None = None,
        pool: ConnectionPool | None = None,
        connection: Connection | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.key, self.limit, self.period, self.now = key, limit, period, now
        self._window, self._pool, self._connection, self._args = window, pool, connection, args

    def decision(self) -> Decision:
        if self._window is None:
            self._window = self._read() or _local.hit(self.key, now=self.now, period=self.period)
        return decide(self._window, now=self.now, limit=self.limit, period=self.period)

    def _read(self) -> Window | None:
        connection, pool = self._connection, self._pool
        if connection is None or pool is None:
            return None
        self._connection = None
        try:
            try:
                count, start = connection.read_response()
            except NoScriptError:  # Redis does not have the script (yet): send its text
                connection.send_command("EVAL", _WINDOW_HIT, *self._args)
                count, start = connection.read_response()
        except RedisError as error:
            connection.disconnect()
            _warn_unavailable(error)
            return None
        finally:
            pool.release(connection)
        return Window(start=float(start), count=int(count))


def _redis_send(
    cache: RedisCache, key: str, *, limit: int, period: float, now: float
) -> PendingHit:
    """Send the hit's ``EVALSHA`` on a connection of the cache's pool, left for
    ``PendingHit`` to read; counted in the process when Redis cannot be reached."""
    full_key = cache.make_and_validate_key(f"ratelimit:{key}")
    args = ("1", full_key, repr(now), repr(float(period)))
    hit = functools.partial(PendingHit, key=key, limit=limit, period=period, now=now)
    try:
        pool = cache._cache.get_client(full_key, write=True).connection_pool
        connection = pool.get_connection()
    except RedisError as error:
        _warn_unavailable(error)
        return hit(window=_local.hit(key, now=now, period=period))
    try:
        connection.send_command("EVALSHA", _WINDOW_HIT_SHA, *args)
    except RedisError as error:
        connection.disconnect()
        pool.release(connection)
        _warn_unavailable(error)
        return hit(window=_local.hit(key, now=now, period=period))
    return hit(pool=pool, connection=connection, args=args)


def _warn_unavailable(error: Exception) -> None:
    global _last_warning
    if time.monotonic() - _last_warning >= _WARN_EVERY:
        _last_warning = time.monotonic()
        logger.warning(
            "Redis unavailable for rate limits (%s): counting in this process only", error
        )


def rate_limits_reset_local() -> None:
    """Forget the windows counted while Redis was unreachable, and when this process last
    warned about it (tests)."""
    global _last_warning
    _local.clear()
    _last_warning = -_WARN_EVERY
