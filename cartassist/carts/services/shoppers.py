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

    Runs in the caller's transaction (ingestion: last, so that the lock below is held
    only for identity rows). Idempotent; the result does not depend on the order in
    which carts are linked.

    1. Read the stored shopper of every identity, without a lock. When every identity
       is known and each cart's identities name one shopper, no larger than the cart's
       id, nothing changes: return at once (the common case). Links are never undone,
       so this answer cannot go stale.
    2. Otherwise take the site's shopper lock (``locks.shopper_lock``) and read again:
       only lock holders write identity rows, so this read is current.
    3. Compute the links (``domain.attribution.shopper_links``), insert the new
       identities, and move every merged shopper's identities with one
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
    known = _known(site_id, all_keys)
    links = shopper_links(carts.items(), known=known)
    ShopperIdentity.objects.bulk_create(
        [
            ShopperIdentity(site_id=site_id, kind=kind, value=value, shopper_id=shopper)
            for (kind, value), shopper in links.shopper_of.items()
            if (kind, value) not in known
        ],
        ignore_conflicts=True,  # none under the lock; harmless
    )
    into: dict[int, list[int]] = defaultdict(list)
    for old, new in links.merged.items():
        into[new].append(old)
    for new, olds in sorted(into.items()):
        ShopperIdentity.objects.filter(site_id=site_id, shopper_id__in=olds).update(shopper_id=new)
    return sorted(into)


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
