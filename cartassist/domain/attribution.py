"""Which intervention an order, or a follow-up contact, is credited to. Pure Python.

The rules (docs/ANALYTICS.md, "Attribution"):

- An order counts for an intervention when it was completed inside the intervention's
  attribution window: ``decided_at <= order time <= decided_at + window``.
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

from collections.abc import Iterable
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

    def covers(self, moment: datetime) -> bool:
        return self.decided_at <= moment <= self.decided_at + self.window


@dataclass(frozen=True)
class Order:
    cart_id: int
    order_id: str
    completed_at: datetime
    total: Decimal


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
        candidates = [t for t in touches if t.id not in credited and t.covers(order.completed_at)]
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


def shopper_groups(carts: Iterable[tuple[int, str, str]]) -> dict[int, int]:
    """Group carts ``(cart id, visitor id, customer id)`` into shoppers: carts sharing a
    visitor id or a (non-empty) customer id belong to one shopper, transitively.

    Returns ``{cart id: shopper number}``; numbers are the smallest cart id of the group.
    """
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        root = key
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[key] != root:  # path compression
            parent[key], key = root, parent[key]
        return root

    def union(a: str, b: str) -> None:
        parent[find(a)] = find(b)

    carts = list(carts)
    for cart_id, visitor_id, customer_id in carts:
        union(f"cart:{cart_id}", f"visitor:{visitor_id}")
        if customer_id:
            union(f"cart:{cart_id}", f"customer:{customer_id}")
    smallest: dict[str, int] = {}
    for cart_id, _, _ in carts:
        root = find(f"cart:{cart_id}")
        smallest[root] = min(smallest.get(root, cart_id), cart_id)
    return {cart_id: smallest[find(f"cart:{cart_id}")] for cart_id, _, _ in carts}
