"""Row locks of the carts domain: carts (created from their first event when missing)
and visitors, in the global lock order of cartassist/core/locks.py (ADR 0009)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

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
    PostgreSQL and SQLite alike.

    Several carts, PostgreSQL: those that exist are locked in ascending id (the global
    order), then the missing ones are inserted (``ON CONFLICT DO NOTHING RETURNING`` the
    rows: new rows are this transaction's own). Should a concurrent transaction have
    created one of them meanwhile (the insert waited for it and stored nothing),
    ``CartsCreatedMeanwhile`` is raised: the caller rolls back and starts again, and
    that cart is then locked in its place in the order, with the others. Carts that all
    exist, a shop's usual batch, take one statement (ADR 0029). SQLite (one writer at a
    time): the missing ones are inserted, then every one is read."""
    return carts_for_update_and(site=site, first_events=first_events, now=now).carts


class CartsLocked(NamedTuple):
    """``carts_for_update_and``'s result: the carts, locked, by cart id; the ids of the
    carts ``on_created`` returned; the cart ids of the carts it created (PostgreSQL,
    several carts: those it inserted, made by ``new_carts``; empty elsewhere)."""

    carts: dict[str, Cart]
    linked: frozenset[int] = frozenset()
    created: frozenset[str] = frozenset()


def carts_for_update_and(
    *,
    site: Site,
    first_events: dict[str, dict[str, Any]],
    now: datetime,
    on_created: tuple[str, list[Any]] | None = None,
    new_carts: Callable[[dict[str, dict[str, Any]]], list[Cart]] | None = None,
) -> CartsLocked:
    """``carts_for_update``, and on PostgreSQL for several carts: ``on_created``, the SQL
    of a data-modifying CTE and its parameters, run in the statement that inserts the
    missing carts, over the CTE ``CREATED`` (the ``id`` and ``external_id`` of the carts
    it inserted), ``RETURNING`` the ids of carts; ``new_carts``, what makes the carts to
    insert from the missing ones' first events (cart id → event; default: ``new_cart``
    of each, as it stands before its events)."""
    first = {cart_id: first_events[cart_id] for cart_id in sorted(first_events)}
    if len(first) == 1:
        (event,) = first.values()
        upserted = _cart_upsert(new_cart(site, event, now))
        return CartsLocked({cart.external_id: cart for cart in upserted})
    with bound_cursor() as cursor:
        if connection.vendor == "postgresql":
            missing = _lock_existing_postgresql(cursor, site, first, now, new_carts)
            return _insert_missing_postgresql(cursor, missing, on_created)
        new = [new_cart(site, event, now) for event in first.values()]
        per_statement = max(1, (connection.features.max_query_params or 65535) // len(_CART_FIELDS))
        for start in range(0, len(new), per_statement):
            chunk = new[start : start + per_statement]
            cursor.execute(
                _insert_missing_sql(connection.vendor, len(chunk)),
                [value for cart in chunk for value in _cart_params(cart)],
            )
        return CartsLocked(_carts_lock(cursor, site, list(first)))


@dataclass(frozen=True)
class _Missing:
    locked: dict[str, Cart]  # the carts that exist, locked
    new: list[Cart]  # the carts to insert, by ascending cart id


def _lock_existing_postgresql(
    cursor: Any,
    site: Site,
    first: dict[str, dict[str, Any]],
    now: datetime,
    new_carts: Callable[[dict[str, dict[str, Any]]], list[Cart]] | None,
) -> _Missing:
    """Lock the carts that exist, in ascending id, and make the missing ones."""
    locked = _carts_lock(cursor, site, list(first))
    missing = {cart_id: event for cart_id, event in first.items() if cart_id not in locked}
    if not missing:
        return _Missing(locked, [])
    if new_carts is not None:
        return _Missing(locked, new_carts(missing))
    return _Missing(locked, [new_cart(site, event, now) for event in missing.values()])


class CartsCreatedMeanwhile(Exception):
    """Carts of the batch that another transaction created after this one looked: roll
    back and start again (they exist then, and are locked by id with the others). Each
    attempt finds at least one more cart existing, so attempts are bounded by the carts."""

    def __init__(self, cart_ids: list[str]) -> None:
        super().__init__(f"carts created meanwhile: {', '.join(cart_ids)}")
        self.cart_ids = cart_ids


def _carts_lock(cursor: Any, site: Site, cart_ids: list[str]) -> dict[str, Cart]:
    """The site's carts named ``cart_ids`` that exist, locked in ascending id (PostgreSQL;
    SQLite's one writer needs no row lock), by cart id."""
    if connection.vendor == "postgresql":  # one text for any number of carts: an array
        cursor.execute(_carts_lock_sql(connection.vendor, None), [site.pk, cart_ids])
    else:
        cursor.execute(_carts_lock_sql(connection.vendor, len(cart_ids)), [site.pk, *cart_ids])
    return {cart.external_id: cart for cart in map(cart_from_row, cursor.fetchall())}


def cart_lock_sql() -> str:
    """``SELECT`` every column of one of the site's carts (``cart_from_row`` reads them),
    locked as a batch locks its carts (``FOR NO KEY UPDATE``); parameters: the site's id,
    the cart's id. For ingestion's one statement of a cart this process has seen (a CTE
    that inserts the cart's events along, ADR 0030)."""
    return _carts_lock_sql(connection.vendor, 1)


@functools.cache
def _carts_lock_sql(vendor: str, carts: int | None) -> str:
    quote = connection.ops.quote_name
    lock = " FOR NO KEY UPDATE" if connection.features.has_select_for_update else ""
    ids = "= ANY(CAST(%s AS varchar[]))" if carts is None else f"IN ({', '.join(['%s'] * carts)})"
    # Identifiers from the model's metadata; every value is a parameter.
    return (
        f"SELECT {cart_columns()} FROM {quote(Cart._meta.db_table)} "  # noqa: S608
        f"WHERE {quote('site_id')} = %s AND {quote('external_id')} {ids} "
        f"ORDER BY {quote('id')}{lock}"
    )


def _insert_missing_postgresql(
    cursor: Any, missing: _Missing, on_created: tuple[str, list[Any]] | None
) -> CartsLocked:
    """Insert the missing carts, which are then this transaction's, in one statement. A
    cart another transaction inserted since the lock's snapshot (the insert waited for
    it and stored nothing) is not locked here, out of order: ``CartsCreatedMeanwhile``.
    A column whose value every new cart shares goes once (most: the defaults), the
    others as one array each; in the statement's order: those values, then the arrays."""
    new = missing.new
    if not new:
        return CartsLocked(missing.locked)
    prepared = preparers(tuple(_CART_FIELDS))
    rows = [_cart_params(cart, prepared) for cart in new]
    columns = [list(column) for column in zip(*rows, strict=True)]
    varying = tuple(any(v != column[0] for v in column) for column in columns)
    params = [column[0] for column, varies in zip(columns, varying, strict=True) if not varies]
    params += [column for column, varies in zip(columns, varying, strict=True) if varies]
    sql, more = on_created or ("", [])
    cursor.execute(_insert_missing_returning_sql(sql, varying), [*params, *more])
    inserted = [(cart_from_row(row), row[-1]) for row in cursor.fetchall()]
    created = {cart.external_id: cart for cart, _linked in inserted}
    raced = [cart.external_id for cart in new if cart.external_id not in created]
    if raced:
        raise CartsCreatedMeanwhile(raced)
    return CartsLocked(
        {**missing.locked, **created},
        frozenset(cart.pk for cart, linked in inserted if linked),
        frozenset(created),
    )


def _insert_columns() -> str:
    """The columns a new cart is inserted with (all but its id), quoted, in model order:
    ``_cart_params``' order."""
    quote = connection.ops.quote_name
    return ", ".join(quote(str(f.column)) for f in _CART_FIELDS)


def cart_columns() -> str:
    """Every concrete column of a cart, quoted, in model order: what ``cart_from_row``
    reads."""
    quote = connection.ops.quote_name
    return ", ".join(quote(str(f.column)) for f in Cart._meta.concrete_fields)


@functools.cache
def _insert_missing_sql(vendor: str, carts: int) -> str:
    quote = connection.ops.quote_name
    columns = _insert_columns()
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
    columns = _insert_columns()
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
def _insert_missing_returning_sql(on_created: str, varying: tuple[bool, ...]) -> str:
    """``_insert_missing_unnest_sql`` as the CTE ``CREATED``, returning every column of
    the carts it inserted and whether ``on_created`` (if any) returned the cart's id."""
    # The caller's CTE is SQL of its own making; every value is a parameter.
    linked = (
        f"{CREATED}.{connection.ops.quote_name('id')} IN (SELECT * FROM on_created)"  # noqa: S608
        if on_created
        else "false"
    )
    also = f", on_created AS ({on_created})" if on_created else ""
    return (
        f"WITH {CREATED} AS ({_insert_missing_unnest_sql(varying)} "  # noqa: S608
        f"RETURNING {cart_columns()}){also} SELECT {CREATED}.*, {linked} FROM {CREATED}"
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
ROW_VERSION = "row_version"


def cart_upsert_statement(cart: Cart, *, created_now: bool = False) -> tuple[str, list[Any]]:
    """``INSERT`` the new ``cart`` ``ON CONFLICT`` (site, cart id) ``DO UPDATE`` of a
    non-key column to its own value ``RETURNING`` every column (``cart_from_row`` reads
    it): the row, created or as it stands, locked until the transaction ends. SQL and
    parameters, also for ingestion's one-statement path (a CTE that inserts the cart's
    events along). ``created_now`` (PostgreSQL): two more columns, ``CREATED_NOW``, true
    when this statement created the row (``xmax = 0``: no transaction updated it), and
    ``ROW_VERSION``, the version it wrote (its ``xmin`` as text: ADR 0031)."""
    return _upsert_sql(connection.vendor, created_now), _cart_params(cart)


@functools.cache
def _upsert_sql(vendor: str, created_now: bool) -> str:
    quote = connection.ops.quote_name
    table = quote(Cart._meta.db_table)
    columns = _insert_columns()
    returning = cart_columns()
    if created_now:
        returning += f", (xmax = 0) AS {CREATED_NOW}, CAST(xmin AS text) AS {ROW_VERSION}"
    visitor = quote("visitor_id")
    # Identifiers from the model's metadata; every value is a parameter.
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(_CART_FIELDS))}) "  # noqa: S608
        f"ON CONFLICT ({quote('site_id')}, {quote('external_id')}) "
        f"DO UPDATE SET {visitor} = {table}.{visitor} RETURNING {returning}"
    )


def cart_insert_statement(cart: Cart, *, where: str) -> tuple[str, list[Any]]:
    """``INSERT`` the new ``cart`` only where ``where`` holds (SQL of a condition whose
    parameters the caller appends after the cart's), ``ON CONFLICT`` (site, cart id) ``DO
    NOTHING``, ``RETURNING`` its ``id``, ``ROW_VERSION`` (the version it wrote) and
    ``CREATED_NOW`` (true): no row when the condition did not hold or the cart exists.
    PostgreSQL; for ingestion's one statement of a cart's first event (ADR 0032), as a
    CTE. Each value is cast to its column's type (an ``INSERT … SELECT`` infers none)."""
    return _insert_where_sql(where), _cart_params(cart)


@functools.cache
def _insert_where_sql(where: str) -> str:
    quote = connection.ops.quote_name
    columns = _insert_columns()
    values = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in _CART_FIELDS)
    # Identifiers from the model's metadata and the caller's condition; values are
    # parameters.
    return (
        f"INSERT INTO {quote(Cart._meta.db_table)} ({columns}) "  # noqa: S608
        f"SELECT {values} WHERE {where} "
        f"ON CONFLICT ({quote('site_id')}, {quote('external_id')}) DO NOTHING "
        f"RETURNING {quote('id')}, CAST(xmin AS text) AS {ROW_VERSION}, true AS {CREATED_NOW}"
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
