"""Fixed-window rate limits: the rule, without a store (docs/adr/0012).

A key's window opens with its first hit and lasts ``period`` seconds; at most ``limit``
hits are allowed within it, every later one is refused until the window ends. The store
(``cartassist.core.ratelimits``) applies :func:`window_hit` to a key in one atomic
step: a Lua script in Redis, a lock in a single process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """When a key's window opened (Unix seconds) and how many hits it has seen."""

    start: float
    count: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # Seconds until the window ends and the key may hit again; 0 when allowed.
    retry_after: float


def window_hit(window: Window | None, *, now: float, period: float) -> Window:
    """The window after one more hit at ``now``: a new one when there is none or the old
    one has ended, else the same one counting one more."""
    if window is None or now >= window.start + period:
        return Window(start=now, count=1)
    return Window(start=window.start, count=window.count + 1)


def decide(window: Window, *, now: float, limit: int, period: float) -> Decision:
    """Allowed while the window's count is within ``limit``; refused ones learn when the
    window ends (never more than a period away, whatever the clocks did)."""
    if window.count <= limit:
        return Decision(allowed=True, retry_after=0.0)
    remaining = min(period, max(0.0, window.start + period - now))
    return Decision(allowed=False, retry_after=remaining)


def retry_after_header(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))
