"""Shoppers: every cart linked, transitively, by a visitor id or a customer id (ADR 0008).

Kept up to date at ingestion, so that outcomes never depend on which cart a refresh
starts from: each ``ShopperIdentity`` row names the shopper of one visitor id or customer
id by the smallest cart id of that shopper's carts. ``shoppers_link`` records the
identities of the carts an ingest touched and merges shoppers an event links;
``shopper_cart_filter`` reads a shopper's carts whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from django.db import connection
from django.db.models import Q

from cartassist.carts.models import ShopperIdentity
from cartassist.core.locks import shopper_lock
from cartassist.domain.attribution import CUSTOMER, VISITOR, IdentityKey, shopper_links


def cart_identities(*, visitor_id: str, customer_ids: Iterable[str] = ()) -> set[IdentityKey]:
    """The identities that link a cart to its shopper: its visitor id and every customer
    id it has had (empty ids link nothing)."""
    keys: set[IdentityKey] = {(VISITOR, visitor_id)} if visitor_id else set()
    keys.update((CUSTOMER, c) for c in customer_ids if c)
    return keys


def _identity_filter(keys: Iterable[IdentityKey]) -> Q:
    by_kind: dict[str, set[str]] = defaultdict(set)
    for kind, value in keys:
        by_kind[kind].add(value)
    query = Q(pk__in=[])
    for kind, values in by_kind.items():
        query |= Q(kind=kind, value__in=values)
    return query


def _known(site_id: int, keys: Iterable[IdentityKey]) -> dict[IdentityKey, int]:
    return {
        (kind, value): shopper
        for kind, value, shopper in ShopperIdentity.objects.filter(
            _identity_filter(keys), site_id=site_id
        ).values_list("kind", "value", "shopper_id")
    }


def shopper_numbers(*, site_id: int, keys: Iterable[IdentityKey]) -> dict[IdentityKey, int]:
    """The stored shopper number of each of ``keys`` that has one."""
    return _known(site_id, list(keys))


def shoppers_link(*, site_id: int, carts: Mapping[int, set[IdentityKey]]) -> list[int]:
    """Record that each cart (id → its identities) and its identities are one shopper.

    Runs in the caller's transaction (ingestion: last but for the carts' UPDATE that
    carries the COMMIT, so that the lock below is held only for identity rows).
    Idempotent; the result does not depend on the order in which carts are linked.

    1. Read the stored shopper of every identity, without a lock. When every identity
       is known and each cart's identities name one shopper, no larger than the cart's
       id, nothing changes: return at once (the common case). Links are never undone,
       so this answer cannot go stale.
    2. Otherwise take the site's shopper lock (``locks.shopper_lock``) and read again:
       only lock holders change identity rows, so this read is current but for the
       visitor identity a brand-new cart may store in its own statement
       (``new_cart_identity_cte``, ADR 0027).
    3. Compute the links (``domain.attribution.shopper_links``) and insert the new
       identities; when one of them was stored meanwhile (by such a new cart), read
       again and compute again. Then move every merged shopper's identities with one
       ``UPDATE … WHERE shopper_id IN (…)`` per surviving shopper.

    Returns the shopper numbers that absorbed other shoppers (smallest cart ids: a cart
    of each shopper whose outcomes may have changed), empty when none did.
    """
    carts = {cart_id: keys for cart_id, keys in carts.items() if keys}
    if not carts:
        return []
    all_keys = {key for keys in carts.values() for key in keys}
    if _linked(carts, _known(site_id, all_keys)):
        return []
    shopper_lock(site_id=site_id)
    for _attempt in range(len(all_keys) + 1):  # each retry learns one more stored identity
        known = _known(site_id, all_keys)
        links = shopper_links(carts.items(), known=known)
        missing = [(k, shopper) for k, shopper in links.shopper_of.items() if k not in known]
        if _identities_insert(site_id, missing) == len(missing):
            break
        # A new cart's own statement stored one of them since the read (the only writes
        # without the lock: new_cart_identity_cte). It is committed now (the insert
        # waited for it): read again and link with it.
    into: dict[int, list[int]] = defaultdict(list)
    for old, new in links.merged.items():
        into[new].append(old)
    for new, olds in sorted(into.items()):
        ShopperIdentity.objects.filter(site_id=site_id, shopper_id__in=olds).update(shopper_id=new)
    return sorted(into)


def _identities_insert(site_id: int, rows: list[tuple[IdentityKey, int]]) -> int:
    """Insert the identity rows ``((kind, value), shopper)`` that are not stored yet; how
    many were inserted (fewer when one was stored meanwhile)."""
    if not rows:
        return 0
    quote = connection.ops.quote_name
    table = quote(ShopperIdentity._meta.db_table)
    columns = ", ".join(quote(c) for c in ("site_id", "kind", "value", "shopper_id"))
    # Identifiers from the model's metadata; every value is a parameter.
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608
        f"{', '.join(['(%s, %s, %s, %s)'] * len(rows))} "
        f"ON CONFLICT ({quote('site_id')}, {quote('kind')}, {quote('value')}) DO NOTHING "
        f"RETURNING {quote('shopper_id')}"
    )
    params = [v for (kind, value), shopper in rows for v in (site_id, kind, value, shopper)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return len(cursor.fetchall())


def new_cart_identity_cte(*, cart_cte: str, created: str, first_wins: bool = True) -> str:
    """SQL of a CTE (parameters: site id, visitor id) that links a cart to a shopper of its
    own, in the statement that creates it: ``INSERT`` its visitor identity with the
    cart's id as the shopper number, when the CTE ``cart_cte`` created the cart (its
    boolean column ``created``) and nobody has stored that identity, ``ON CONFLICT DO
    NOTHING RETURNING`` it. Only for a cart whose only identity is that visitor id.
    ``first_wins`` false: no ``ON CONFLICT``, so an identity stored meanwhile fails the
    whole statement (a unique violation) instead of leaving the cart unlinked (ADR 0032).

    Without the shopper lock, and still exact (ADR 0027): the cart is new, so no stored
    row names it, and the identity is new, so no shopper has it: the row makes a shopper
    of one cart, which is what ``shoppers_link`` would write. When the identity is stored
    already, or a concurrent transaction stores it first (the insert waits for it),
    nothing is inserted and the caller links the cart with ``shoppers_link``. A lock
    holder that read before this row was committed and tries to insert the same identity
    meets the conflict and reads again (``_identities_insert``), so it never links that
    identity to another shopper than the one stored."""
    quote = connection.ops.quote_name
    table = quote(ShopperIdentity._meta.db_table)
    columns = ", ".join(quote(c) for c in ("site_id", "kind", "value", "shopper_id"))
    # Identifiers from the model's metadata and the caller's CTE; values are parameters.
    return (
        f"INSERT INTO {table} ({columns}) "  # noqa: S608
        f"SELECT CAST(%s AS bigint), '{VISITOR}', CAST(%s AS varchar), {cart_cte}.{quote('id')} "
        f"FROM {cart_cte} WHERE {cart_cte}.{created} "
        + (
            f"ON CONFLICT ({quote('site_id')}, {quote('kind')}, {quote('value')}) DO NOTHING "
            if first_wins
            else ""
        )
        + f"RETURNING {quote('shopper_id')}"
    )


def visitor_identity_stored_sql() -> str:
    """SQL of a condition (parameters: site id, visitor id): the site has stored that
    visitor id's identity (it names a shopper already)."""
    quote = connection.ops.quote_name
    # Identifiers from the model's metadata; values are parameters.
    return (
        f"EXISTS (SELECT FROM {quote(ShopperIdentity._meta.db_table)} "  # noqa: S608
        f"WHERE {quote('site_id')} = CAST(%s AS bigint) AND {quote('kind')} = '{VISITOR}' "
        f"AND {quote('value')} = CAST(%s AS varchar))"
    )


def new_carts_identities_cte(*, carts_cte: str) -> str:
    """``new_cart_identity_cte`` for several carts (parameters: site id, an array of cart
    ids, an array of their visitor ids): the visitor identity of each cart the CTE
    ``carts_cte`` inserted (its ``id`` and ``external_id``) and that is listed, with the
    cart's id as the shopper number, ascending, so that of two new carts of one new
    visitor the smaller id is stored (the other is linked by ``shoppers_link``).
    ``RETURNING`` the carts linked."""
    quote = connection.ops.quote_name
    table = quote(ShopperIdentity._meta.db_table)
    columns = ", ".join(quote(c) for c in ("site_id", "kind", "value", "shopper_id"))
    id_, external_id = quote("id"), quote("external_id")
    # Identifiers from the model's metadata and the caller's CTE; values are parameters.
    return (
        f"INSERT INTO {table} ({columns}) "  # noqa: S608
        f"SELECT CAST(%s AS bigint), '{VISITOR}', v.visitor, {carts_cte}.{id_} "
        f"FROM {carts_cte} JOIN unnest(CAST(%b AS varchar[]), CAST(%b AS varchar[])) "
        f"AS v (cart, visitor) ON v.cart = {carts_cte}.{external_id} "
        f"ORDER BY {carts_cte}.{id_} "
        f"ON CONFLICT ({quote('site_id')}, {quote('kind')}, {quote('value')}) DO NOTHING "
        f"RETURNING {quote('shopper_id')}"
    )


def _linked(carts: Mapping[int, set[IdentityKey]], known: Mapping[IdentityKey, int]) -> bool:
    for cart_id, keys in carts.items():
        if any(key not in known for key in keys):
            return False
        shoppers = {known[key] for key in keys}
        if len(shoppers) != 1 or min(shoppers) > cart_id:
            return False
    return True


def shopper_cart_filter(
    *, site_id: int, keys: Iterable[IdentityKey]
) -> tuple[Q, dict[IdentityKey, int]]:
    """A filter for every cart of the shoppers of ``keys``, whole, and the shopper number
    of each identity of those shoppers (``{identity: number}``).

    Identities with no shopper yet (a cart that was never linked) match their own carts.
    """
    keys = set(keys)
    numbers = set(_known(site_id, keys).values())
    identities: dict[IdentityKey, int] = {
        (kind, value): shopper
        for kind, value, shopper in ShopperIdentity.objects.filter(
            site_id=site_id, shopper_id__in=numbers
        ).values_list("kind", "value", "shopper_id")
    }
    wanted = keys | set(identities)
    visitors = [value for kind, value in wanted if kind == VISITOR]
    customers = [value for kind, value in wanted if kind == CUSTOMER]
    query = Q(visitor_id__in=visitors)
    if customers:
        query |= Q(customer_id__in=customers)
    return query, identities
