"""Row locks for carts, in one place (after Saleor's lock_objects.py).

On PostgreSQL ``select_for_update`` serialises writers per cart. On SQLite the whole
database is locked by the IMMEDIATE transaction that every write runs in, so the
``FOR UPDATE`` clause is simply dropped by Django.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from cartassist.models import Cart, Site


def cart_qs_select_for_update() -> QuerySet[Cart]:
    return Cart.objects.select_for_update(of=("self",)).order_by("pk")


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
