"""The demo shop's products, delivery charges and totals. Pure: no Django, no I/O.

Delivery is deliberately expensive for small carts (standard 9.90 EUR on a 20–40 EUR
cart is a "shipping shock"), so the demo shows the stall CartAssist exists to rescue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

CURRENCY = "EUR"
FREE_STANDARD_DELIVERY_FROM = Decimal("150.00")
MAX_QUANTITY = 20


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    category: str
    price: Decimal
    description: str
    hue: int  # the product tile's colour (CSS hsl hue): the demo ships no images

    @property
    def category_label(self) -> str:
        return CATEGORIES[self.category]


CATEGORIES: dict[str, str] = {
    "kitchen": "Kitchen",
    "home": "Home",
    "stationery": "Stationery",
    "pantry": "Pantry",
}

PRODUCTS: tuple[Product, ...] = (
    Product("MUG-ENAMEL", "Enamel camp mug", "kitchen", Decimal("14.50"),
            "Speckled enamel on steel, 350 ml. Survives campfires and dishwashers.", 200),
    Product("TOWEL-LINEN", "Linen tea towel", "kitchen", Decimal("12.00"),
            "Stonewashed European linen that dries glasses without lint.", 28),
    Product("CANDLE-FIG", "Fig & cedar candle", "home", Decimal("24.00"),
            "Soy wax in a reusable amber jar, about 45 hours of burn time.", 340),
    Product("THROW-WOOL", "Merino wool throw", "home", Decimal("129.00"),
            "Loomed in Portugal, 130 × 170 cm, soft enough for bare shoulders.", 160),
    Product("NOTEBOOK-A5", "Dot-grid notebook A5", "stationery", Decimal("9.50"),
            "160 pages of 100 g paper that fountain pens do not bleed through.", 48),
    Product("PEN-BRASS", "Brass fountain pen", "stationery", Decimal("48.00"),
            "Solid brass, steel nib, takes standard international cartridges.", 40),
    Product("COFFEE-BEANS", "Single-origin coffee, 250 g", "pantry", Decimal("11.90"),
            "Washed Ethiopian beans, roasted light: jasmine, lemon, black tea.", 18),
    Product("TEA-SENCHA", "Sencha green tea, 100 g", "pantry", Decimal("8.50"),
            "First-flush leaves from Shizuoka, steamed briefly for a grassy cup.", 95),
)  # fmt: skip

_BY_SKU = {product.sku: product for product in PRODUCTS}


def product_by_sku(sku: str) -> Product | None:
    return _BY_SKU.get(sku)


@dataclass(frozen=True, slots=True)
class Line:
    product: Product
    quantity: int

    @property
    def total(self) -> Decimal:
        return self.product.price * self.quantity


@dataclass(frozen=True, slots=True)
class DeliveryOption:
    method: str
    label: str
    eta: str
    fee: Decimal


def cart_lines(quantities: Mapping[str, int]) -> list[Line]:
    """Lines in catalogue order; unknown SKUs and non-positive quantities are left out."""
    return [
        Line(product, min(quantities[product.sku], MAX_QUANTITY))
        for product in PRODUCTS
        if quantities.get(product.sku, 0) > 0
    ]


def subtotal(lines: list[Line]) -> Decimal:
    return sum((line.total for line in lines), Decimal("0.00"))


def delivery_options(cart_subtotal: Decimal) -> list[DeliveryOption]:
    """Standard delivery is free from 150 EUR; below that it costs 9.90. Express: 19.90."""
    standard_fee = (
        Decimal("0.00") if cart_subtotal >= FREE_STANDARD_DELIVERY_FROM else Decimal("9.90")
    )
    return [
        DeliveryOption("standard", "Standard delivery", "3–5 working days", standard_fee),
        DeliveryOption("express", "Express delivery", "next working day", Decimal("19.90")),
    ]


def delivery_option(cart_subtotal: Decimal, method: str) -> DeliveryOption | None:
    return next((o for o in delivery_options(cart_subtotal) if o.method == method), None)


def money(amount: Decimal) -> str:
    """The wire form of an amount: a decimal string with two places ("12.50")."""
    return f"{amount.quantize(Decimal('0.01'))}"


def cart_updated_data(lines: list[Line]) -> dict[str, Any]:
    """The ``data`` of a ``cart_updated`` event (docs/WIDGET.md)."""
    return {
        "currency": CURRENCY,
        "subtotal": money(subtotal(lines)),
        "lines": [
            {
                "sku": line.product.sku,
                "name": line.product.name,
                "quantity": line.quantity,
                "unit_price": money(line.product.price),
                "category": line.product.category,
            }
            for line in lines
        ],
    }
