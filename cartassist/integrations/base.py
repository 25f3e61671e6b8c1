"""The platform adapter interface (docs/integrations/README.md, "Adding a platform").

An adapter turns one hosted platform's contract into CartAssist's:

1. ``delivery`` + ``verify``: an inbound webhook's identity (delivery id, topic, event id)
   and its signature, checked against the connection's webhook secrets (current, and the
   previous one during its rotation window);
2. ``map_webhook``: the verified payload → CartAssist cart events (the API's event shape,
   docs/API.md "Events"), validated and ingested like signed server events, plus the
   discount codes an order used (to redeem the grants behind them);
3. ``discount_request`` / ``discount_response``: a grant → the exact HTTP request that
   creates the platform's native single-use discount, and the platform's answer → the
   discount's id or a refusal;
4. ``discount_link``: where the shopper is sent so the code applies itself.

Everything here is pure: frozen dataclasses in, values out, no Django and no I/O, so an
adapter is tested with the platform's documented payloads alone. Saleor, BigCommerce or
Magento are added by implementing ``PlatformAdapter`` and calling ``register``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol


@dataclass(frozen=True)
class ConnectionInfo:
    """What an adapter may know of a shop's connection (a snapshot of its admin row)."""

    platform: str
    store_url: str  # https://shop.myshopify.com, https://shop.example (no trailing /)
    storefront_url: str  # where shoppers browse (discount links); defaults to store_url
    api_version: str
    webhook_secrets: tuple[str, ...]  # current first, then the previous one in its window
    api_key: str
    api_secret: str


@dataclass(frozen=True)
class Delivery:
    """An inbound webhook's identity, read from its headers."""

    delivery_id: str  # unique per delivery; a retry of the same delivery repeats it
    topic: str
    event_id: str = ""  # the platform event behind it, when the platform names one
    ping: bool = False  # a set-up ping: accepted, stores nothing


@dataclass(frozen=True)
class OrderDiscounts:
    """The discount codes one order used (to redeem the grants behind our codes)."""

    order_id: str
    codes: tuple[str, ...]


@dataclass(frozen=True)
class MappedWebhook:
    events: list[dict[str, Any]] = field(default_factory=list)
    order: OrderDiscounts | None = None


@dataclass(frozen=True)
class DiscountSpec:
    """A grant, as a native discount: single use, expiring, for one customer if known."""

    grant_id: str
    code: str
    kind: str  # policies RemedyKindChoices: waive_delivery, reduce_delivery, discount, …
    amount: Decimal | None
    currency: str
    starts_at: datetime
    ends_at: datetime
    timezone: str  # the site's IANA zone (WooCommerce dates are in the shop's zone)
    customer_id: str = ""  # the platform's customer id, when the cart carries one
    customer_email: str = ""


@dataclass(frozen=True)
class OutboundRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


class WebhookRefused(Exception):
    """An inbound webhook is refused before anything is stored: 401 (signature) or 400."""

    def __init__(self, status: int, field_name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field_name = field_name
        self.message = message


class DiscountRefused(Exception):
    """The platform refused to create the discount (a 4xx or ``userErrors``): final."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class DiscountUnavailable(Exception):
    """The platform could not be reached or failed (timeout, 5xx, 429): retried."""


class RemedyUnsupported(Exception):
    """This remedy has no native discount on the platform (e.g. a free gift)."""


class PlatformAdapter(Protocol):
    """What a platform integration implements (see the module docstring)."""

    platform: str
    label: str

    def delivery(self, headers: Mapping[str, str], body: bytes) -> Delivery: ...

    def verify(self, connection: ConnectionInfo, headers: Mapping[str, str], body: bytes) -> None:
        """Raise ``WebhookRefused`` (401) unless a valid secret signed ``body``."""

    def map_webhook(
        self, connection: ConnectionInfo, delivery: Delivery, payload: dict[str, Any]
    ) -> MappedWebhook: ...

    def discount_request(self, connection: ConnectionInfo, spec: DiscountSpec) -> OutboundRequest:
        """The request creating ``spec``; raises ``RemedyUnsupported``."""

    def discount_response(self, status: int, body: bytes) -> str:
        """The created discount's platform id; raises ``DiscountRefused`` or
        ``DiscountUnavailable``."""

    def discount_link(self, connection: ConnectionInfo, code: str) -> str: ...


_REGISTRY: dict[str, PlatformAdapter] = {}


def register(adapter: PlatformAdapter) -> PlatformAdapter:
    _REGISTRY[adapter.platform] = adapter
    return adapter


def adapter_for(platform: str) -> PlatformAdapter:
    """The registered adapter of ``platform`` (KeyError for an unknown platform)."""
    return _REGISTRY[platform]


def platforms() -> list[tuple[str, str]]:
    """(platform, label) of every registered adapter, for admin choices."""
    return sorted((a.platform, a.label) for a in _REGISTRY.values())


def header(headers: Mapping[str, str], name: str) -> str:
    """A header by name, case-insensitively ("" when absent)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return ""


def status_is_transient(status: int) -> bool:
    """Worth retrying: rate limited, or the platform's own failure."""
    return status == 429 or status >= 500


def event_id_part(value: object, limit: int = 40) -> str:
    """``value`` reduced to the event-id alphabet (``A-Z a-z 0-9 . _ : -``)."""
    text = "".join(c if c.isascii() and (c.isalnum() or c in "._:-") else "-" for c in str(value))
    return text[:limit]
