"""Row locks of the carts domain: carts (created from their first event when missing)
and visitors, in the global lock order of cartassist/core/locks.py (ADR 0009)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from cartassist.carts.models import Cart, Site, Visitor
from cartassist.core.locks import for_update

_CART_FIELDS = [f for f in Cart._meta.concrete_fields if not f.primary_key]
_ATTNAMES = [f.attname for f in Cart._meta.concrete_fields]


def cart_qs_select_for_update() -> QuerySet[Cart]:
    return for_update(Cart.objects.all()).order_by("pk")


def carts_for_update(
    *, site: Site, first_events: dict[str, dict[str, Any]], now: datetime
) -> dict[str, Cart]:
    """Lock the carts named by ``first_events`` (cart id → its first event), creating any
    that do not exist yet from that first event. Must run inside a transaction.

    One cart (a single event, the usual request): one statement, ``INSERT … ON CONFLICT
    (site, cart id) DO UPDATE`` of a column to its own value ``RETURNING`` the row. The
    update takes the row lock (``FOR NO KEY UPDATE``'s strength: no key column is set)
    and returns the row as it stands after any concurrent transaction that held it, on
    PostgreSQL and SQLite alike. Several carts: the missing ones are inserted (``ON
    CONFLICT DO NOTHING``), then every one is locked in ascending id, the global order."""
    new = [new_cart(site, first_events[cart_id], now) for cart_id in sorted(first_events)]
    if len(new) == 1:
        return {cart.external_id: cart for cart in _cart_upsert(new[0])}
    Cart.objects.bulk_create(new, ignore_conflicts=True)
    return {
        c.external_id: c
        for c in cart_qs_select_for_update().filter(site=site, external_id__in=list(first_events))
    }


def _cart_upsert(cart: Cart) -> list[Cart]:
    sql, params = cart_upsert_statement(cart)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [cart_from_row(row) for row in cursor.fetchall()]


def cart_upsert_statement(cart: Cart) -> tuple[str, list[Any]]:
    """``INSERT`` the new ``cart`` ``ON CONFLICT`` (site, cart id) ``DO UPDATE`` of a
    non-key column to its own value ``RETURNING`` every column (``cart_from_row`` reads
    it): the row, created or as it stands, locked until the transaction ends. SQL and
    parameters, also for ingestion's one-statement path (a CTE that inserts the cart's
    events along)."""
    params = [f.get_db_prep_save(f.pre_save(cart, add=True), connection) for f in _CART_FIELDS]
    return _upsert_sql(connection.vendor), params


@functools.cache
def _upsert_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    table = quote(Cart._meta.db_table)
    columns = ", ".join(quote(str(f.column)) for f in _CART_FIELDS)
    returning = ", ".join(quote(str(f.column)) for f in Cart._meta.concrete_fields)
    visitor = quote("visitor_id")
    # Identifiers from the model's metadata; every value is a parameter.
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(_CART_FIELDS))}) "  # noqa: S608
        f"ON CONFLICT ({quote('site_id')}, {quote('external_id')}) "
        f"DO UPDATE SET {visitor} = {table}.{visitor} RETURNING {returning}"
    )


def cart_from_row(row: Sequence[Any]) -> Cart:
    """A ``Cart`` from a row of every concrete column in model order (more are ignored),
    with the database's values converted as the ORM converts them."""
    values = list(row[: len(Cart._meta.concrete_fields)])
    for index, column, converters in _converters(connection.vendor):
        for convert in converters:
            values[index] = convert(values[index], column, connection)
    return Cart.from_db(connection.alias, _ATTNAMES, values)


@functools.cache
def _converters(vendor: str) -> list[tuple[int, Any, list[Any]]]:
    found = []
    for index, f in enumerate(Cart._meta.concrete_fields):
        column = f.get_col(Cart._meta.db_table)
        converters = connection.ops.get_db_converters(column) + f.get_db_converters(connection)
        if converters:
            found.append((index, column, converters))
    return found


def new_cart(site: Site, event: dict[str, Any], now: datetime) -> Cart:
    """The cart ``event`` (its first) creates when it does not exist yet (not saved)."""
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
