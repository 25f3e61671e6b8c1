"""Row locks of the carts domain: carts (created from their first event when missing)
and visitors, in the global lock order of cartassist/core/locks.py (ADR 0009)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models import Field, Q, QuerySet

from cartassist.carts.models import Cart, Site, Visitor
from cartassist.core.locks import for_update
from cartassist.core.transactions import bound_cursor

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
    return carts_for_update_and(site=site, first_events=first_events, now=now)[0]


def carts_for_update_and(
    *,
    site: Site,
    first_events: dict[str, dict[str, Any]],
    now: datetime,
    on_created: tuple[str, list[Any]] | None = None,
) -> tuple[dict[str, Cart], list[tuple[Any, ...]]]:
    """``carts_for_update``, and on PostgreSQL for several carts ``on_created``: the SQL
    of a data-modifying CTE and its parameters, run in the statement that inserts the
    missing carts, over the CTE ``CREATED`` (the ``id`` and ``external_id`` of the carts
    it inserted); its ``RETURNING`` rows come back with the carts (none elsewhere)."""
    new = [new_cart(site, first_events[cart_id], now) for cart_id in sorted(first_events)]
    if len(new) == 1:
        return {cart.external_id: cart for cart in _cart_upsert(new[0])}, []
    quote = connection.ops.quote_name
    lock = " FOR NO KEY UPDATE" if connection.features.has_select_for_update else ""
    created_rows: list[tuple[Any, ...]] = []
    with bound_cursor() as cursor:
        if connection.vendor == "postgresql":  # one short statement, one array per column
            created_rows = _insert_missing_postgresql(cursor, new, on_created)
        else:
            per_statement = max(
                1, (connection.features.max_query_params or 65535) // len(_CART_FIELDS)
            )
            for start in range(0, len(new), per_statement):
                chunk = new[start : start + per_statement]
                cursor.execute(
                    _insert_missing_sql(connection.vendor, len(chunk)),
                    [value for cart in chunk for value in _cart_params(cart)],
                )
        # Identifiers from the model's metadata; every value is a parameter.
        cursor.execute(
            f"SELECT {_columns()} FROM {quote(Cart._meta.db_table)} "  # noqa: S608
            f"WHERE {quote('site_id')} = %s AND {quote('external_id')} IN "
            f"({', '.join(['%s'] * len(new))}) ORDER BY {quote('id')}{lock}",
            [site.pk, *(cart.external_id for cart in new)],
        )
        locked = {cart.external_id: cart for cart in map(cart_from_row, cursor.fetchall())}
    return locked, created_rows


def _insert_missing_postgresql(
    cursor: Any, new: list[Cart], on_created: tuple[str, list[Any]] | None
) -> list[tuple[Any, ...]]:
    """Insert the ``new`` carts that do not exist yet in one statement; ``on_created``'s
    rows. A column whose value every new cart shares goes once (most: the defaults), the
    others as one array each; in the statement's order: those values, then the arrays."""
    prepared = preparers(tuple(_CART_FIELDS))
    rows = [_cart_params(cart, prepared) for cart in new]
    columns = [list(column) for column in zip(*rows, strict=True)]
    varying = tuple(any(v != column[0] for v in column) for column in columns)
    params = [column[0] for column, varies in zip(columns, varying, strict=True) if not varies]
    params += [column for column, varies in zip(columns, varying, strict=True) if varies]
    if not on_created:
        cursor.execute(_insert_missing_unnest_sql(varying), params)
        return []
    sql, more = on_created
    cursor.execute(_insert_missing_with_sql(sql, varying), [*params, *more])
    return cast(list[tuple[Any, ...]], cursor.fetchall())


def _columns() -> str:
    quote = connection.ops.quote_name
    return ", ".join(quote(str(f.column)) for f in Cart._meta.concrete_fields)


@functools.cache
def _insert_missing_sql(vendor: str, carts: int) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in _CART_FIELDS)
    one = "(" + ", ".join(["%s"] * len(_CART_FIELDS)) + ")"
    # Identifiers from the model's metadata; every value is a parameter.
    return (
        f"INSERT INTO {quote(Cart._meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES {', '.join([one] * carts)} "
        f"ON CONFLICT ({quote('site_id')}, {quote('external_id')}) DO NOTHING"
    )


@functools.cache
def _insert_missing_unnest_sql(varying: tuple[bool, ...]) -> str:
    """PostgreSQL: ``_insert_missing_sql`` as ``INSERT … SELECT … FROM unnest(<one array
    per varying column>)``, each other column's one value a parameter of its own: the
    text (and the driver's parse of it) does not grow with the carts, and a value the
    carts share (a default, mostly) is sent once, not once per cart."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in _CART_FIELDS)
    names = [f"v{index}" for index in range(len(_CART_FIELDS))]
    values = ", ".join(
        f"u.{name}" if varies else f"CAST(%b AS {f.db_type(connection)})"
        for f, name, varies in zip(_CART_FIELDS, names, varying, strict=True)
    )
    arrays = [
        (f"CAST(%b AS {f.db_type(connection)}[])", name)
        for f, name, varies in zip(_CART_FIELDS, names, varying, strict=True)
        if varies
    ]
    unnest = ", ".join(array for array, _name in arrays)
    aliases = ", ".join(name for _array, name in arrays)
    source = f" FROM unnest({unnest}) AS u ({aliases})" if arrays else ""
    # Identifiers from the model's metadata; every value is a parameter.
    return (
        f"INSERT INTO {quote(Cart._meta.db_table)} ({columns}) "  # noqa: S608
        f"SELECT {values}{source} "
        f"ON CONFLICT ({quote('site_id')}, {quote('external_id')}) DO NOTHING"
    )


CREATED = "created"


@functools.cache
def _insert_missing_with_sql(on_created: str, varying: tuple[bool, ...]) -> str:
    quote = connection.ops.quote_name
    # The caller's CTE is SQL of its own making; every value is a parameter.
    return (
        f"WITH {CREATED} AS ({_insert_missing_unnest_sql(varying)} "  # noqa: S608
        f"RETURNING {quote('id')}, {quote('external_id')}), "
        f"on_created AS ({on_created}) SELECT * FROM on_created"
    )


def _cart_params(cart: Cart, prepared: list[Callable[[Any], Any]] | None = None) -> list[Any]:
    """The new ``cart``'s column values as parameters; ``prepared``: ``preparers`` of
    ``_CART_FIELDS``, when the caller has them for several carts."""
    prepared = prepared or preparers(tuple(_CART_FIELDS))
    return [
        prepare(f.pre_save(cart, add=True))
        for f, prepare in zip(_CART_FIELDS, prepared, strict=True)
    ]


@functools.cache
def _plain(vendor: str, fields: tuple[Field[Any, Any], ...]) -> tuple[bool, ...]:
    """For each field, whether the driver adapts its Python value as the field would."""
    plain: tuple[type[Field[Any, Any]], ...] = (
        models.CharField,
        models.BooleanField,
        models.ForeignKey,
        models.AutoField,
    )
    if vendor == "postgresql":  # psycopg adapts aware datetimes as Django would
        plain += (models.DateTimeField,)
    return tuple(isinstance(f, plain) for f in fields)


def _as_is(value: Any) -> Any:
    return value


def preparers(fields: tuple[Field[Any, Any], ...]) -> list[Callable[[Any], Any]]:
    """For each field, how a Python value becomes a query parameter: as is where the
    driver adapts it as the field would (text, booleans, ids; aware datetimes on
    PostgreSQL), else the field's ``get_db_prep_save`` (JSON, decimals, SQLite's
    datetimes) on this thread's connection itself (``connection`` is a proxy that
    looks the connection up on every attribute: a few times per value otherwise). The
    hot statements' parameters, without a call per value and field."""
    current = connections[DEFAULT_DB_ALIAS]
    return [
        _as_is if plain else functools.partial(f.get_db_prep_save, connection=current)
        for f, plain in zip(fields, _plain(current.vendor, fields), strict=True)
    ]


def _cart_upsert(cart: Cart) -> list[Cart]:
    sql, params = cart_upsert_statement(cart)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [cart_from_row(row) for row in cursor.fetchall()]


CREATED_NOW = "created_now"


def cart_upsert_statement(cart: Cart, *, created_now: bool = False) -> tuple[str, list[Any]]:
    """``INSERT`` the new ``cart`` ``ON CONFLICT`` (site, cart id) ``DO UPDATE`` of a
    non-key column to its own value ``RETURNING`` every column (``cart_from_row`` reads
    it): the row, created or as it stands, locked until the transaction ends. SQL and
    parameters, also for ingestion's one-statement path (a CTE that inserts the cart's
    events along). ``created_now`` (PostgreSQL): one more column, ``CREATED_NOW``, true
    when this statement created the row (``xmax = 0``: no transaction updated it)."""
    return _upsert_sql(connection.vendor, created_now), _cart_params(cart)


@functools.cache
def _upsert_sql(vendor: str, created_now: bool) -> str:
    quote = connection.ops.quote_name
    table = quote(Cart._meta.db_table)
    columns = ", ".join(quote(str(f.column)) for f in _CART_FIELDS)
    returning = _columns() + (f", (xmax = 0) AS {CREATED_NOW}" if created_now else "")
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
    current = connections[DEFAULT_DB_ALIAS]  # not the proxy: see ``preparers``
    values = list(row[: len(Cart._meta.concrete_fields)])
    for index, column, converters in _converters(current.vendor):
        for convert in converters:
            values[index] = convert(values[index], column, current)
    return Cart.from_db(current.alias, _ATTNAMES, values)


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
