"""Periodic passes over many rows: each item in its own transaction (docs/adr/0009).

A housekeeping pass (offer expiry, the reservation repair, closing chats whose shopper
left, …) must never let one bad row stop the rest: the item that fails is rolled back
(a savepoint when the pass runs inside a transaction), logged with its traceback and
counted, and the pass goes on with the next one. The next pass tries it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from django.db import transaction

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class BatchResult:
    done: int = 0
    failed: int = 0


def each_in_own_transaction(
    items: Iterable[T], step: Callable[[T], bool | None], *, what: str
) -> BatchResult:
    """Run ``step(item)`` for each item, each in its own transaction.

    ``step`` returns whether it changed something (counted in ``done``; ``None`` counts
    as done). An exception rolls that item back and counts it in ``failed``.
    """
    result = BatchResult()
    for item in items:
        try:
            with transaction.atomic():
                changed = step(item)
        except Exception:
            logger.exception("%s failed for %r; the rest of the pass goes on", what, item)
            result.failed += 1
            continue
        if changed is None or changed:
            result.done += 1
    return result
