"""Row locks of the carts domain: carts (created from their first event when missing)
and visitors, in the global lock order of cartassist/core/locks.py (ADR 0009)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from cartassist.carts.models import Cart, Site, Visitor
from cartassist.core.locks import for_update


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
