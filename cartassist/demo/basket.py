"""The demo shop's cart and orders, kept in the Django session.

Like a real shop's, the cart has its own id (sent to CartAssist as ``cart_id``); it is
created by the first change to the cart, never by viewing a page.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypedDict

from django.contrib.sessions.backends.base import SessionBase

from . import catalogue

CART_KEY = "demo_cart"
ORDERS_KEY = "demo_orders"
KEPT_ORDERS = 5

# What a grant from CartAssist does to the totals, by remedy kind (docs/WIDGET.md).
DELIVERY_REMEDIES = {"waive_delivery", "reduce_delivery"}
GRANT_LABELS = {
    "waive_delivery": "Delivery charge waived by our agent",
    "reduce_delivery": "Delivery charge reduced by our agent",
    "discount": "Discount from our agent",
}


def new_cart_id() -> str:
    return "demo-" + secrets.token_hex(8)


def new_order_id() -> str:
    return "DEMO-" + secrets.token_hex(4).upper()


class DemoGrant(TypedDict):
    """A verified CartAssist grant as the demo basket keeps it in the session."""

    token: str
    kind: str
    amount: str | None  # None for a gift or a hold
    currency: str
    expires_at: str


@dataclass
class Basket:
    """A view of the session's cart; changes are written back with :meth:`save`."""

    session: SessionBase
    id: str
    quantities: dict[str, int]
    contact: dict[str, str] | None
    shipping: dict[str, str] | None
    grant: DemoGrant | None = None

    @classmethod
    def of(cls, session: SessionBase) -> Basket:
        raw: dict[str, Any] = session.get(CART_KEY) or {}
        return cls(
            session=session,
            id=raw.get("id", ""),
            quantities=dict(raw.get("quantities", {})),
            contact=raw.get("contact"),
            shipping=raw.get("shipping"),
            grant=raw.get("grant"),
        )

    @property
    def lines(self) -> list[catalogue.Line]:
        return catalogue.cart_lines(self.quantities)

    @property
    def subtotal(self) -> Decimal:
        return catalogue.subtotal(self.lines)

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def delivery(self) -> catalogue.DeliveryOption | None:
        if not self.shipping:
            return None
        return catalogue.delivery_option(self.subtotal, self.shipping["method"])

    @property
    def delivery_fee(self) -> Decimal | None:
        delivery = self.delivery
        return delivery.fee if delivery else None

    @property
    def grant_reduction(self) -> Decimal:
        return self.reduction_for(self.delivery_fee)

    def reduction_for(self, delivery_fee: Decimal | None) -> Decimal:
        """What the grant takes off: a delivery remedy never more than the delivery
        charge (``delivery_fee``), a discount never more than the subtotal."""
        grant = self.grant
        if not grant or grant["amount"] is None or grant["currency"] != catalogue.CURRENCY:
            return Decimal("0.00")
        amount = Decimal(grant["amount"])
        if grant["kind"] in DELIVERY_REMEDIES:
            return min(amount, delivery_fee or Decimal("0.00"))
        if grant["kind"] == "discount":
            return min(amount, self.subtotal)
        return Decimal("0.00")

    @property
    def grant_label(self) -> str:
        return GRANT_LABELS.get(self.grant["kind"], "") if self.grant else ""

    @property
    def total_before_grant(self) -> Decimal:
        return self.subtotal + (self.delivery_fee or Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return self.total_before_grant - self.grant_reduction

    def set_quantity(self, sku: str, quantity: int) -> None:
        if not self.id:
            self.id = new_cart_id()
        if quantity > 0:
            self.quantities[sku] = min(quantity, catalogue.MAX_QUANTITY)
        else:
            self.quantities.pop(sku, None)

    def save(self) -> None:
        self.session[CART_KEY] = {
            "id": self.id,
            "quantities": self.quantities,
            "contact": self.contact,
            "shipping": self.shipping,
            "grant": self.grant,
        }

    def place_order(self, order_id: str | None = None) -> dict[str, Any]:
        """Turn the cart into an order (kept in the session) and empty the cart.
        A grant in the basket must have been redeemed for ``order_id`` first."""
        delivery = self.delivery
        assert delivery is not None, "place_order needs a delivery method"
        reduction = self.grant_reduction
        order = {
            "id": order_id or new_order_id(),
            "cart_id": self.id,
            "lines": [
                {
                    "name": line.product.name,
                    "quantity": line.quantity,
                    "total": catalogue.money(line.total),
                }
                for line in self.lines
            ],
            "subtotal": catalogue.money(self.subtotal),
            "delivery_label": delivery.label,
            "delivery_fee": catalogue.money(delivery.fee),
            "grant_label": self.grant_label if reduction else "",
            "grant_reduction": catalogue.money(reduction),
            "total": catalogue.money(self.total),
            "currency": catalogue.CURRENCY,
            "email": (self.contact or {}).get("email", ""),
        }
        orders = dict(self.session.get(ORDERS_KEY) or {})
        orders[order["id"]] = order
        self.session[ORDERS_KEY] = dict(list(orders.items())[-KEPT_ORDERS:])
        self.session.pop(CART_KEY, None)
        return order


def order_of(session: SessionBase, order_id: str) -> dict[str, Any] | None:
    return (session.get(ORDERS_KEY) or {}).get(order_id)
