"""Oscar objects → CartAssist server events (docs/API.md, "Events").

Server events are signed with the site secret, so their totals are trusted: they come
from Oscar's own basket and order, after Oscar applied its offers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cartassist.client import Event
from policies.engine.money import CURRENCY_EXPONENTS

from .identity import cart_id as make_cart_id


@dataclass(frozen=True)
class Shopper:
    """The ids every event of one basket carries."""

    cart_id: str
    visitor_id: str
    customer_id: str = ""

    def event(self, type: str, data: dict[str, Any]) -> Event:
        return Event(
            type=type,
            cart_id=self.cart_id,
            visitor_id=self.visitor_id,
            customer_id=self.customer_id or None,
            data=data,
        )


def shopper_of(tracked: Any) -> Shopper:
    """The shopper of a :class:`~.models.TrackedBasket`."""
    return Shopper(
        cart_id=make_cart_id(tracked.basket_id),
        visitor_id=tracked.visitor_id,
        customer_id=tracked.customer_id,
    )


def money(amount: Decimal, currency: str) -> str:
    """An amount as CartAssist takes it: a decimal string with the currency's digits."""
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    return str(Decimal(amount).quantize(Decimal(1).scaleb(-exponent)))


def _price(prices: Any, incl: str, excl: str) -> Decimal:
    """Tax-inclusive where Oscar knows the tax (EU style), else tax-exclusive (US style)."""
    value = getattr(prices, incl, None) if getattr(prices, "is_tax_known", True) else None
    return Decimal(value if value is not None else getattr(prices, excl))


def basket_subtotal(basket: Any) -> Decimal:
    """The basket's total after Oscar's offers, before delivery."""
    return _price(basket, "total_incl_tax", "total_excl_tax")


def _sku(line: Any) -> str:
    record = getattr(line, "stockrecord", None)
    sku = (record.partner_sku if record is not None else "") or line.product.upc
    return (sku or f"product-{line.product_id}")[:64]


def _category(line: Any) -> str:
    category = line.product.get_categories().first()
    return category.name[:64] if category is not None else ""


def basket_lines(basket: Any) -> list[dict[str, Any]]:
    currency = basket_currency(basket)
    return [
        {
            "sku": _sku(line),
            "name": (line.product.get_title() or _sku(line))[:200],
            "quantity": line.quantity,
            "unit_price": money(
                _price(line, "unit_price_incl_tax", "unit_price_excl_tax"), currency
            ),
            "category": _category(line),
        }
        for line in basket.all_lines()[:200]
    ]


def basket_currency(basket: Any) -> str:
    """Oscar names no currency for an empty basket: then the shop's default one."""
    from django.conf import settings

    return str(basket.currency or getattr(settings, "OSCAR_DEFAULT_CURRENCY", "EUR"))


def cart_updated(shopper: Shopper, basket: Any) -> Event:
    currency = basket_currency(basket)
    return shopper.event(
        "cart_updated",
        {
            "currency": currency,
            "subtotal": money(basket_subtotal(basket), currency),
            "lines": basket_lines(basket),
        },
    )


def checkout_step(shopper: Shopper, step: str) -> Event:
    return shopper.event("checkout_step", {"step": step})


@dataclass(frozen=True)
class Quote:
    """A delivery charge shown to the shopper (before any CartAssist waiver)."""

    method: str
    fee: Decimal
    currency: str
    country: str = ""

    @property
    def key(self) -> str:
        return f"{self.method}|{money(self.fee, self.currency)}|{self.currency}|{self.country}"


def shipping_quoted(shopper: Shopper, quote: Quote) -> Event:
    data: dict[str, Any] = {
        "currency": quote.currency,
        "fee": money(quote.fee, quote.currency),
        "method": quote.method[:64],
    }
    if quote.country:
        data["country"] = quote.country
    return shopper.event("shipping_quoted", data)


def payment_failed(shopper: Shopper, reason: str) -> Event:
    return shopper.event("payment_failed", {"reason": reason[:200]})


def coupon_rejected(shopper: Shopper, code: str) -> Event:
    return shopper.event("coupon_rejected", {"code": code[:64]})


def order_completed(shopper: Shopper, order: Any) -> Event:
    currency = order.currency
    return shopper.event(
        "order_completed",
        {
            "order_id": str(order.number),  # Oscar's order numbers are strings
            "currency": currency,
            "total": money(_price(order, "total_incl_tax", "total_excl_tax"), currency),
        },
    )


def basket_fingerprint(basket_id: int) -> str:
    """A digest of what makes ``cart_updated`` change: lines, their prices, vouchers.

    Read from the database (two small queries), so it is cheap to compare on every request.
    """
    from oscar.core.loading import get_model

    line_model = get_model("basket", "Line")
    basket_model = get_model("basket", "Basket")
    lines = line_model.objects.filter(basket_id=basket_id).order_by("pk")
    rows = list(lines.values_list("pk", "quantity", "price_incl_tax", "price_excl_tax"))
    vouchers = list(
        basket_model.vouchers.through.objects.filter(basket_id=basket_id)
        .order_by("voucher_id")
        .values_list("voucher_id", flat=True)
    )
    return hashlib.sha256(repr((rows, vouchers)).encode()).hexdigest()
