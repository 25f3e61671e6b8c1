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
from collections.abc import Callable

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

# The same, counted only on the first use of KEYS[2] (set for ARGV[3] seconds): {-1, '0'}
# when it was used already, and then nothing is counted. A request refused as a replay
# must not use up its caller's rate (ADR 0028).
_FIRST_USE_WINDOW_HIT = (
    "if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then return {-1, '0'} end\n"
    + _WINDOW_HIT
)

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
_SHA = {
    script: hashlib.sha1(script.encode()).hexdigest()  # noqa: S324  # Redis's script id
    for script in (_WINDOW_HIT, _FIRST_USE_WINDOW_HIT)
}


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


def rate_limit_send(
    *,
    key: str,
    limit: int,
    period: float,
    now: float | None = None,
    first_use: tuple[str, int] | None = None,
) -> PendingHit:
    """``rate_limit_hit`` in two steps: the hit is sent to Redis now and its answer read
    by ``decision()``, so the caller can do other work while Redis answers (the event
    endpoints validate the batch meanwhile). ``decision()`` must be called (it hands the
    Redis connection back).

    ``first_use``: (cache key, seconds). The hit counts only if that key was not set yet,
    and it is set for that long, in the same atomic step (a signature's first use and
    the caller's rate: one round trip); ``PendingHit.first_use()`` says which."""
    now = time.time() if now is None else now
    cache = caches["default"]
    hit = functools.partial(PendingHit, key=key, limit=limit, period=period, now=now)
    if isinstance(cache, RedisCache):
        return _redis_send(cache, hit, key=key, now=now, period=period, first_use=first_use)
    if first_use is not None and not cache.add(first_use[0], 1, timeout=first_use[1]):
        return hit(window=Window(start=now, count=0), first=False)
    full_key = f"ratelimit:{key}"
    with _cache_lock:
        window = window_hit(cache.get(full_key), now=now, period=period)
        cache.set(full_key, window, timeout=max(1, math.ceil(period)))
    return hit(window=window, first=first_use is not None or None)


class PendingHit:
    """A hit whose window is known (``window``) or is on its way from Redis (sent on
    ``connection`` of ``pool`` with ``args`` for ``script``). When Redis fails, the
    process-local windows count the hit. ``first``: whether a first use was asked for
    and what it was (None: not asked, or Redis could not tell)."""

    def __init__(
        self,
        *,
        key: str,
        limit: int,
        period: float,
        now: float,
        window: Window | None = None,
        first: bool | None = None,
        pool: ConnectionPool | None = None,
        connection: Connection | None = None,
        script: str = _WINDOW_HIT,
        args: tuple[str, ...] = (),
    ) -> None:
        self.key, self.limit, self.period, self.now = key, limit, period, now
        self._window, self._first = window, first
        self._pool, self._connection, self._script, self._args = pool, connection, script, args

    def decision(self) -> Decision:
        self._answer()
        assert self._window is not None
        return decide(self._window, now=self.now, limit=self.limit, period=self.period)

    def first_use(self) -> bool | None:
        """True: the first use (the hit counted); False: used already (nothing counted);
        None: Redis could not tell (or no first use was asked for)."""
        self._answer()
        return self._first

    def _answer(self) -> None:
        if self._window is None:
            self._window = self._read() or _local.hit(self.key, now=self.now, period=self.period)

    def _read(self) -> Window | None:
        connection, pool = self._connection, self._pool
        if connection is None or pool is None:
            return None
        self._connection = None
        try:
            try:
                count, start = connection.read_response()
            except NoScriptError:  # Redis does not have the script (yet): send its text
                connection.send_command("EVAL", self._script, *self._args)
                count, start = connection.read_response()
        except RedisError as error:
            connection.disconnect()
            _warn_unavailable(error)
            return None
        finally:
            pool.release(connection)
        if self._script is _FIRST_USE_WINDOW_HIT:
            self._first = int(count) >= 0
            if not self._first:
                return Window(start=self.now, count=0)
        return Window(start=float(start), count=int(count))


def _redis_send(
    cache: RedisCache,
    hit: Callable[..., PendingHit],
    *,
    key: str,
    now: float,
    period: float,
    first_use: tuple[str, int] | None,
) -> PendingHit:
    """Send the hit's ``EVALSHA`` on a connection of the cache's pool, left for
    ``PendingHit`` to read; counted in the process when Redis cannot be reached (and
    then a first use asked for is unknown: None)."""
    full_key = cache.make_and_validate_key(f"ratelimit:{key}")
    script = _WINDOW_HIT
    args: tuple[str, ...] = ("1", full_key, repr(now), repr(float(period)))
    if first_use is not None:
        once_key, seconds = cache.make_and_validate_key(first_use[0]), first_use[1]
        script = _FIRST_USE_WINDOW_HIT
        args = ("2", full_key, once_key, repr(now), repr(float(period)), str(int(seconds)))
    try:
        pool = cache._cache.get_client(full_key, write=True).connection_pool
        connection = pool.get_connection()
    except RedisError as error:
        _warn_unavailable(error)
        return hit(window=_local.hit(key, now=now, period=period))
    try:
        connection.send_command("EVALSHA", _SHA[script], *args)
    except RedisError as error:
        connection.disconnect()
        pool.release(connection)
        _warn_unavailable(error)
        return hit(window=_local.hit(key, now=now, period=period))
    return hit(pool=pool, connection=connection, script=script, args=args)


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
