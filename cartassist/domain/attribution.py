"""Which intervention an order, or a follow-up contact, is credited to. Pure Python.

The rules (docs/ANALYTICS.md, "Attribution"):

- A shopper is every cart linked, transitively, by a visitor id or a customer id
  (``shopper_groups``; kept at ingestion by ``shopper_links``, ADR 0008).
- An order counts for an intervention of the same shopper when it was completed inside
  the intervention's attribution window, ``decided_at <= order time <= decided_at +
  window``, in the intervention's currency (amounts are never mixed, ADR 0010).
- Each order is credited to at most one intervention, and each intervention to at most
  one order (its first), so revenue is never counted twice.
- When several interventions could take an order, the order goes to one on the same
  cart first, then to one in the experiment (invited or held out) rather than a
  suppressed one, then to the most recent, then to the highest id (a stable tie-break).
- Orders are taken oldest first; an order id seen twice (two events, or two carts
  reporting one order) counts once, at its earliest time.
- A follow-up contact goes to the most recent intervention in the experiment decided at
  or before the contact and within the follow-up window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

SAME_CART = "same_cart"
SAME_SHOPPER = "same_shopper"


@dataclass(frozen=True)
class Touch:
    """An intervention, as attribution sees it."""

    id: int
    cart_id: int
    decided_at: datetime
    window: timedelta
    in_experiment: bool  # invited or held out; suppressed decisions are not
    currency: str = ""

    def covers(self, moment: datetime) -> bool:
        return self.decided_at <= moment <= self.decided_at + self.window

    def may_take(self, order: Order) -> bool:
        return self.currency == order.currency and self.covers(order.completed_at)


@dataclass(frozen=True)
class Order:
    cart_id: int
    order_id: str
    completed_at: datetime
    total: Decimal
    currency: str = ""


@dataclass(frozen=True)
class Credit:
    order: Order
    attribution: str  # SAME_CART or SAME_SHOPPER


def distinct_orders(orders: Iterable[Order]) -> list[Order]:
    """One order per order id (the earliest), oldest first; orders completed at the same
    moment are taken in cart and order-id order, so the result never depends on the order
    the orders came in."""
    first: dict[str, Order] = {}
    for order in sorted(orders, key=lambda o: (o.completed_at, o.cart_id, o.order_id, o.total)):
        first.setdefault(order.order_id, order)
    return list(first.values())


def attribute_orders(touches: Iterable[Touch], orders: Iterable[Order]) -> dict[int, Credit]:
    """Credit each order to at most one intervention (see the module docstring).

    Returns ``{intervention id: credit}`` for the interventions that converted.
    """
    touches = list(touches)
    credited: dict[int, Credit] = {}
    for order in distinct_orders(orders):
        candidates = [t for t in touches if t.id not in credited and t.may_take(order)]
        if not candidates:
            continue
        best = max(
            candidates,
            key=lambda t: (t.cart_id == order.cart_id, t.in_experiment, t.decided_at, t.id),
        )
        credited[best.id] = Credit(
            order=order, attribution=SAME_CART if best.cart_id == order.cart_id else SAME_SHOPPER
        )
    return credited


def attribute_contact(
    touches: Iterable[Touch], *, contact_at: datetime, follow_up_window: timedelta
) -> int | None:
    """The intervention a follow-up contact at ``contact_at`` is credited to, or None."""
    candidates = [
        t
        for t in touches
        if t.in_experiment and t.decided_at <= contact_at <= t.decided_at + follow_up_window
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda t: (t.decided_at, t.id)).id


VISITOR = "visitor"
CUSTOMER = "customer"
IdentityKey = tuple[str, str]
"""``(VISITOR, visitor id)`` or ``(CUSTOMER, customer id)`` (models.IdentityKind)."""


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, key: object) -> object:
        root = key
        while self.parent.setdefault(root, root) != root:
            root = self.parent[root]
        while self.parent[key] != root:  # path compression
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: object, b: object) -> None:
        self.parent[self.find(a)] = self.find(b)


def shopper_groups(carts: Iterable[tuple[int, str, str]]) -> dict[int, int]:
    """Group carts ``(cart id, visitor id, customer id)`` into shoppers: carts sharing a
    visitor id or a (non-empty) customer id belong to one shopper, transitively. A cart
    may appear several times (once per customer id it has had).

    Returns ``{cart id: shopper number}``; numbers are the smallest cart id of the group.
    """
    links = _UnionFind()
    carts = list(carts)
    for cart_id, visitor_id, customer_id in carts:
        links.union(("cart", cart_id), ("visitor", visitor_id))
        if customer_id:
            links.union(("cart", cart_id), ("customer", customer_id))
    smallest: dict[object, int] = {}
    for cart_id, _, _ in carts:
        root = links.find(("cart", cart_id))
        smallest[root] = min(smallest.get(root, cart_id), cart_id)
    return {cart_id: smallest[links.find(("cart", cart_id))] for cart_id, _, _ in carts}


@dataclass(frozen=True)
class ShopperLinks:
    """What linking some carts changes in the stored shopper of each identity."""

    shopper_of: dict[IdentityKey, int]  # every identity of the linked carts → its shopper
    merged: dict[int, int]  # an existing shopper number → the one it is now part of


def shopper_links(
    carts: Iterable[tuple[int, Iterable[IdentityKey]]], *, known: Mapping[IdentityKey, int]
) -> ShopperLinks:
    """Link each cart ``(cart id, its identities)`` to its identities, given the stored
    shopper number of the identities already ``known``.

    1. Union each cart with its identities, and each known identity with its shopper.
    2. Each resulting group's number is the smallest of its cart ids and of the shopper
       numbers in it — so it stays "the smallest cart id of the shopper's carts", and
       is the same whichever order carts are linked in.
    3. Return the number of every identity of the carts, and every existing shopper
       number that changes (two or more shoppers merged, or a smaller cart joined).
    """
    links = _UnionFind()
    carts = [(cart_id, list(keys)) for cart_id, keys in carts]
    for cart_id, keys in carts:
        for key in keys:
            links.union(("cart", cart_id), ("identity", key))
            if key in known:
                links.union(("identity", key), ("shopper", known[key]))
    smallest: dict[object, int] = {}

    def lower(node: object, number: int) -> None:
        root = links.find(node)
        smallest[root] = min(smallest.get(root, number), number)

    for cart_id, _ in carts:
        lower(("cart", cart_id), cart_id)
    for number in {known[key] for _, keys in carts for key in keys if key in known}:
        lower(("shopper", number), number)
    shopper_of = {key: smallest[links.find(("identity", key))] for _, keys in carts for key in keys}
    merged = {
        number: smallest[links.find(("shopper", number))]
        for number in {known[key] for key in shopper_of if key in known}
        if smallest[links.find(("shopper", number))] != number
    }
    return ShopperLinks(shopper_of=shopper_of, merged=merged)
