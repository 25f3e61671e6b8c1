"""Webhooks, the pure part: the JSON body sent to the shop and the retry schedule.

docs/WEBHOOKS.md. The service (cartassist/webhooks/services.py) owns the rows and the HTTP.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

# Waits after the 1st, 2nd, … failed attempt; later failures wait the last one (the cap).
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
)
# ±10 %: endpoints that failed together are not all retried in the same second.
JITTER = 0.1


def retry_delay(failed_attempts: int, *, jitter: float) -> timedelta:
    """How long to wait after ``failed_attempts`` failed attempts (1 or more).

    ``jitter`` is a number in [0, 1) (random in production, fixed in tests); it scales the
    scheduled wait by a factor between 0.9 and 1.1.
    """
    if failed_attempts < 1:
        raise ValueError("failed_attempts starts at 1")
    if not 0 <= jitter < 1:
        raise ValueError("jitter must be in [0, 1)")
    base = RETRY_SCHEDULE[min(failed_attempts, len(RETRY_SCHEDULE)) - 1]
    return base * (1 - JITTER + 2 * JITTER * jitter)


def json_safe(value: Any) -> Any:
    """``value`` with Decimals as strings, datetimes as ISO 8601 (UTC as ``Z``) and UUIDs
    as strings, so it survives a JSON column and the wire unchanged."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes POSTed and signed: compact JSON with sorted keys, so every attempt
    of a delivery sends the same body whatever order the database returned the keys in."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
