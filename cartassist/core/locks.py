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
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model, Q, QuerySet

from cartassist.carts.models import Cart, Site, Visitor

M = TypeVar("M", bound=Model)


def for_update(qs: QuerySet[M]) -> QuerySet[M]:
    """``qs`` locking its own rows only, ``FOR NO KEY UPDATE``, until the transaction ends."""
    return qs.select_for_update(of=("self",), no_key=True)


def cart_qs_select_for_update() -> QuerySet[Cart]:
    return for_update(Cart.objects.all()).order_by("pk")


def carts_for_update(
    *, site: Site, first_events: dict[str, dict[str, Any]], now: datetime
) -> dict[str, Cart]:
    """Lock the carts named by ``first_events`` (cart id → its first event), creating any
    that do not exist yet from that first event. Must run inside a transaction."""
    cart_ids = list(first_events)
    carts = {
        c.external_id: c
        for c in cart_qs_select_for_update().filter(site=site, external_id__in=cart_ids)
    }
    missing = [cart_id for cart_id in cart_ids if cart_id not in carts]
    if missing:
        Cart.objects.bulk_create(
            [_new_cart(site, first_events[cart_id], now) for cart_id in missing],
            ignore_conflicts=True,
        )
        carts.update(
            (c.external_id, c)
            for c in cart_qs_select_for_update().filter(site=site, external_id__in=missing)
        )
    return carts


def _new_cart(site: Site, event: dict[str, Any], now: datetime) -> Cart:
    occurred_at = event["occurred_at"]
    return Cart(
        site=site,
        external_id=event["cart_id"],
        visitor_id=event["visitor_id"],
        currency=event["data"].get("currency", site.currency),
        state_at=occurred_at,
        last_activity_at=min(occurred_at, now),
    )


def visitors_for_update(*, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Visitor]:
    """Lock the visitors named by ``keys`` (site id, visitor id), creating the missing
    ones, in ascending (site, visitor) order. Must run inside a transaction.

    The frequency cap reads and writes ``Visitor.last_invited_at`` under this lock, so two
    sweepers (or a sweeper and an agent reaching out) never both invite one visitor."""
    ordered = sorted(set(keys))
    if not ordered:
        return {}
    # Inserted in order too: a concurrent insert of the same visitor waits like a lock.
    Visitor.objects.bulk_create(
        [Visitor(site_id=site_id, external_id=visitor_id) for site_id, visitor_id in ordered],
        ignore_conflicts=True,
    )
    by_site: dict[int, list[str]] = {}
    for site_id, visitor_id in ordered:
        by_site.setdefault(site_id, []).append(visitor_id)
    which = Q()
    for site_id, visitor_ids in by_site.items():
        which |= Q(site_id=site_id, external_id__in=visitor_ids)
    locked = for_update(Visitor.objects.filter(which)).order_by("site_id", "external_id")
    return {(v.site_id, v.external_id): v for v in locked}


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
