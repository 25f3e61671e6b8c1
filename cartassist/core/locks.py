"""Row locks, in one place (after Saleor's lock_objects.py); docs/adr/0009.

Every row lock in the code base goes through ``for_update``: it locks the rows of the
queryset's own model only (``OF self``: never the site, policy version or conversation
a ``select_related`` joins in) and takes ``FOR NO KEY UPDATE``, which still serialises
writers of the row but lets other transactions insert rows that reference it (an event
for a locked cart, an audit entry for a locked offer), as PostgreSQL's own UPDATE does.

Transactions take row locks in one global order, so that two of them never wait on
each other in a cycle:

    conversation → cart (ascending id) → visitor (ascending site, id) → offer → grant
    → budget counters (ascending id)

A path may skip any of them, never go back up the list. Routing locks an agent profile
after the conversation it routes. On SQLite the whole database is
locked by the IMMEDIATE transaction that every write runs in, so Django drops the
``FOR … UPDATE`` clause.

The locks of the carts domain's own rows (claiming carts, creating and locking visitors)
are in cartassist/carts/locks.py; they lock through ``for_update`` too.
"""

from __future__ import annotations

from typing import TypeVar

from django.db import connection
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def for_update(qs: QuerySet[M]) -> QuerySet[M]:
    """``qs`` locking its own rows only, ``FOR NO KEY UPDATE``, until the transaction ends."""
    return qs.select_for_update(of=("self",), no_key=True)


def supports_skip_locked() -> bool:
    return bool(connection.features.has_select_for_update_skip_locked)


# pg_advisory_xact_lock(namespace, key): the namespace keeps these apart from any other
# advisory lock in the same database ("CA" "sh" in ASCII).
SHOPPER_LOCK_NAMESPACE = 0x4341_7368


def shopper_lock(*, site_id: int) -> None:
    """Serialise changes to the site's shoppers (``ShopperIdentity`` rows) until commit.

    A transaction-scoped PostgreSQL advisory lock, taken by ``shoppers_link`` only when an
    event links an identity for the first time or links two shoppers. Its holder touches
    only identity rows, never a cart row, so it cannot wait on an ingest that holds cart
    locks and waits for it (ADR 0008). On SQLite every write transaction is already
    serialised (IMMEDIATE), so there is nothing to take.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SHOPPER_LOCK_NAMESPACE, site_id])
