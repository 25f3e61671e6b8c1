"""Process-local caches of rarely changed rows, kept honest by a shared version stamp
(docs/adr/0018).

A ``StampedCache`` keeps values (a site, its stall rules, the carts a chat follows) in
the process's memory. Each cache names a *stamp*: a token in the Django cache (Redis in
production, so shared by every process; local memory in embedded mode). Whoever changes
the rows behind a stamp calls ``stamp_changed(name)``:

- at once, this process's caches of that stamp are emptied (its next read loads afresh);
- once the transaction commits, the shared stamp gets a new token, and every other
  process empties its caches of that stamp the next time it compares stamps.

A cache compares its stamp with the shared one at most every
``CARTASSIST_LOCAL_CACHE_SECONDS`` (default 1 s), or every ``interval`` seconds when it
names its own (0: on every read): that is how stale
another process's copy can be. When the shared store cannot be read (Redis down), the
cache is emptied at each comparison instead: it then reloads from the database once per
interval, never serves an older copy longer than that. A cache with a ``max_age`` is also
emptied that many seconds after it was last emptied, the bound on staleness if a token
write was lost while Redis stayed readable.

The token is written on commit, never before: a process that reloaded between an early
write and the commit would keep the old rows under the new token until the next change.
And a thread that changed the rows behind a stamp in its still open transaction reads
them past the caches of that stamp, keeping nothing: if the transaction rolled back, what
it had kept would stay under the unchanged token.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_registry: dict[str, list[StampedCache[object, object]]] = {}
_registry_lock = threading.Lock()
# Stamps this thread changed in its open transaction (see the module's docstring).
_uncommitted = threading.local()


def _uncommitted_names() -> set[str]:
    """The stamps this thread changed in its open transaction (emptied once it ended:
    committed, or rolled back)."""
    names: set[str] | None = getattr(_uncommitted, "names", None)
    if names is None:
        names = _uncommitted.names = set()
    elif names and not connection.in_atomic_block:
        names.clear()
    return names


def _key(name: str) -> str:
    return f"cartassist:stamp:{name}"


def _shared_stamp(name: str) -> str | None:
    """The current token of ``name`` (created when missing); None when unreadable."""
    try:
        token = cache.get(_key(name))
        if token is None:
            cache.add(_key(name), secrets.token_hex(8), timeout=None)
            token = cache.get(_key(name))
    except (RedisError, OSError) as error:
        logger.warning("shared cache unavailable for stamp %s: %r", name, error)
        return None
    return token if isinstance(token, str) else None


def _publish(name: str) -> None:
    try:
        cache.set(_key(name), secrets.token_hex(8), timeout=None)
    except (RedisError, OSError) as error:  # other processes catch up when it is back
        logger.warning("shared cache unavailable, stamp %s not published: %r", name, error)
    _empty_local(name)


def _empty_local(name: str) -> None:
    with _registry_lock:
        caches = list(_registry.get(name, ()))
    for local in caches:
        local.clear()


def stamp_changed(name: str) -> None:
    """The rows behind ``name`` changed (or are about to, in this transaction): empty this
    process's caches of it now, and give the shared stamp a new token on commit (at once
    outside a transaction). Until then this thread reads past the caches of ``name``."""
    _empty_local(name)
    if connection.in_atomic_block:
        _uncommitted_names().add(name)
    transaction.on_commit(lambda: _committed(name))


def _committed(name: str) -> None:
    _uncommitted_names().discard(name)
    _publish(name)


def local_caches_clear() -> None:
    """Empty every process-local cache (tests: rows must not outlive their test)."""
    with _registry_lock:
        caches = [c for group in _registry.values() for c in group]
    for local in caches:
        local.clear()
    _uncommitted_names().clear()


class StampedCache(Generic[K, V]):
    """Values by key, loaded on first use, emptied when the stamp ``name`` changes.

    Thread-safe: a value may be loaded twice by two threads at once, never served after
    an emptying that happened before the read began. Values are shared between requests:
    callers must treat them as read-only. ``interval``: seconds between comparisons of the
    stamp (None: ``CARTASSIST_LOCAL_CACHE_SECONDS``; 0: every read); ``max_age``: seconds
    after which everything is loaded again even under the same stamp (None: never).
    """

    def __init__(
        self,
        name: str,
        *,
        max_entries: int = 10_000,
        interval: float | None = None,
        max_age: float | None = None,
    ) -> None:
        self.name = name
        self.max_entries = max_entries
        self.interval = interval
        self.max_age = max_age
        self._values: dict[K, V] = {}
        self._lock = threading.Lock()
        self._seen: str | None = None
        self._checked_at = float("-inf")
        self._emptied_at = time.monotonic()
        self._generation = 0
        with _registry_lock:
            _registry.setdefault(name, []).append(self)  # type: ignore[arg-type]

    def clear(self) -> None:
        with self._lock:
            self._empty()
            self._checked_at = float("-inf")

    def _empty(self) -> None:
        self._values.clear()
        self._generation += 1
        self._emptied_at = time.monotonic()

    def _compare_stamp(self) -> None:
        now = time.monotonic()
        interval = self.interval
        if interval is None:
            interval = settings.CARTASSIST_LOCAL_CACHE_SECONDS
        if now - self._checked_at < interval:
            return
        token = _shared_stamp(self.name)
        with self._lock:
            expired = self.max_age is not None and now - self._emptied_at >= self.max_age
            if token is None or token != self._seen or expired:
                self._empty()
            self._seen = token
            self._checked_at = now

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The cached value of ``key``, or ``load()``'s (then kept). A thread that changed
        the rows behind the stamp in its open transaction gets ``load()``'s, not kept."""
        if self.name in _uncommitted_names():
            return load()
        self._compare_stamp()
        with self._lock:
            if key in self._values:
                return self._values[key]
            generation = self._generation
        value = load()
        with self._lock:
            # Not kept when the cache was emptied while loading: the load may predate it.
            if generation == self._generation:
                if len(self._values) >= self.max_entries:
                    self._values.clear()
                self._values[key] = value
        return value

    def peek(self, key: K) -> V | None:
        """The value kept for ``key``, if any, without comparing the stamp or loading:
        only for a caller that checks it against fresh rows itself."""
        with self._lock:
            return self._values.get(key)

    def forget(self, key: K) -> None:
        with self._lock:
            self._values.pop(key, None)
