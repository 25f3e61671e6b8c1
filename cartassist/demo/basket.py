"""The demo shop's cart and orders, kept in the Django session.

Like a real shop's, the cart has its own id (sent to CartAssist as ``cart_id``); it is
created by the first change to the cart, never by viewing a page.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.sessions.backends.base import SessionBase

from . import catalogue

CART_KEY = "demo_cart"
ORDERS_KEY = "demo_orders"
KEPT_ORDERS = 5


def new_cart_id() -> str:
    return "demo-" + secrets.token_hex(8)


def new_order_id() -> str:
    return "DEMO-" + secrets.token_hex(4).upper()


@dataclass
class Basket:
    """A view of the session's cart; changes are written back with :meth:`save`."""

    session: SessionBase
    id: str
    quantities: dict[str, int]
    contact: dict[str, str] | None
    shipping: dict[str, str] | None

    @classmethod
    def of(cls, session: SessionBase) -> Basket:
        raw: dict[str, Any] = session.get(CART_KEY) or {}
        return cls(
            session=session,
            id=raw.get("id", ""),
            quantities=dict(raw.get("quantities", {})),
            contact=raw.get("contact"),
            shipping=raw.get("shipping"),
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
    def total(self) -> Decimal:
        delivery = self.delivery
        return self.subtotal + (delivery.fee if delivery else Decimal("0.00"))

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
        }

    def place_order(self) -> dict[str, Any]:
        """Turn the cart into an order (kept in the session) and empty the cart."""
        delivery = self.delivery
        assert delivery is not None, "place_order needs a delivery method"
        order = {
            "id": new_order_id(),
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
