"""Shopify Web Pixel events → cart events (docs/integrations/shopify.md, "The pixel").

Shopify's checkout runs custom pixels in a sandboxed iframe: the pixel's ``fetch`` sends
``Origin: null``, so the intake cannot check the Origin against the site's allow-list the
way the widget endpoint does. It checks instead that the page the event happened on
(``context.document.location.origin``) is one of the site's origins, and treats every
event as browser-reported (untrusted, like the widget's: server totals outrank them).

Standard events used (shopify.dev, Web Pixels API, "Standard events"):

- ``checkout_shipping_info_submitted`` → ``checkout_step`` shipping, the checkout's lines
  (``cart_updated``) and its delivery charge (``shipping_quoted``, ``shippingLine.price``);
- ``payment_info_submitted`` → ``checkout_step`` payment;
- ``alert_displayed`` (``data.alert``: ``type``, ``target``, ``value``, ``message``) →
  ``coupon_rejected`` when it is about a discount code, ``payment_failed`` when it is
  about payment; other alerts (an address field, …) are ignored.

Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cartassist.integrations.base import event_id_part
from cartassist.integrations.shopify.adapter import CART_ATTRIBUTE, VISITOR_ATTRIBUTE

PIXEL_EVENTS = ("checkout_shipping_info_submitted", "payment_info_submitted", "alert_displayed")


def pixel_origin(event: Mapping[str, Any]) -> str:
    """The storefront origin the pixel event happened on ("" when absent)."""
    context = event.get("context") or {}
    document = context.get("document") if isinstance(context, dict) else None
    location = document.get("location") if isinstance(document, dict) else None
    origin = location.get("origin") if isinstance(location, dict) else None
    return origin if isinstance(origin, str) else ""


def _amount(money: Any) -> Any:
    return money.get("amount") if isinstance(money, dict) else None


def _checkout(event: Mapping[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    checkout = data.get("checkout") if isinstance(data, dict) else None
    return checkout if isinstance(checkout, dict) else {}


def _attributes(checkout: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(a.get("key")): str(a.get("value") or "")
        for a in checkout.get("attributes") or []
        if isinstance(a, dict) and a.get("key")
    }


def pixel_events(
    event: Mapping[str, Any], *, cart_hint: str = "", visitor_hint: str = ""
) -> list[dict[str, Any]]:
    """One pixel event → CartAssist events (raw, validated by the caller).

    The cart is the checkout's ``cartassist_cart_id`` attribute (set by the theme
    snippet), else its token, else ``cart_hint`` (the token the pixel remembered: an
    ``alert_displayed`` carries no checkout); the visitor likewise, else Shopify's
    ``clientId``.
    """
    name = event.get("name")
    if name not in PIXEL_EVENTS:
        return []
    checkout = _checkout(event)
    attrs = _attributes(checkout)
    cart_id = attrs.get(CART_ATTRIBUTE) or str(checkout.get("token") or "") or cart_hint
    visitor_id = attrs.get(VISITOR_ATTRIBUTE) or visitor_hint or str(event.get("clientId") or "")
    base = {
        "occurred_at": event.get("timestamp"),
        "cart_id": event_id_part(cart_id, 64),
        "visitor_id": event_id_part(visitor_id, 64),
    }
    prefix = f"pxl:{event_id_part(event.get('id') or '', 48)}"
    if name == "payment_info_submitted":
        return [{"id": prefix, "type": "checkout_step", **base, "data": {"step": "payment"}}]
    if name == "alert_displayed":
        return _alert_events(event, prefix, base)
    return _shipping_events(checkout, prefix, base)


def _shipping_events(
    checkout: Mapping[str, Any], prefix: str, base: dict[str, Any]
) -> list[dict[str, Any]]:
    currency = checkout.get("currencyCode") or (checkout.get("subtotalPrice") or {}).get(
        "currencyCode"
    )
    events: list[dict[str, Any]] = [
        {"id": f"{prefix}:s", "type": "checkout_step", **base, "data": {"step": "shipping"}}
    ]
    lines = [_line(item) for item in checkout.get("lineItems") or [] if isinstance(item, dict)]
    subtotal = _amount(checkout.get("subtotalPrice"))
    if lines and subtotal is not None:
        events.append(
            {
                "id": f"{prefix}:c",
                "type": "cart_updated",
                **base,
                "data": {"currency": currency, "subtotal": subtotal, "lines": lines},
            }
        )
    fee = _amount((checkout.get("shippingLine") or {}).get("price"))
    if fee is not None:
        options = (checkout.get("delivery") or {}).get("selectedDeliveryOptions") or []
        method = options[0].get("title") if options and isinstance(options[0], dict) else ""
        events.append(
            {
                "id": f"{prefix}:q",
                "type": "shipping_quoted",
                **base,
                "data": {"currency": currency, "fee": fee, "method": str(method or "")[:64]},
            }
        )
    return events


def _line(item: Mapping[str, Any]) -> dict[str, Any]:
    variant = item.get("variant") if isinstance(item.get("variant"), dict) else {}
    assert isinstance(variant, dict)
    sku = variant.get("sku") or variant.get("id") or item.get("id") or "item"
    return {
        "sku": str(sku)[:64],
        "name": str(item.get("title") or sku)[:200],
        "quantity": item.get("quantity"),
        "unit_price": _amount(variant.get("price")),
    }


def _alert_events(
    event: Mapping[str, Any], prefix: str, base: dict[str, Any]
) -> list[dict[str, Any]]:
    data = event.get("data")
    alert = data.get("alert") if isinstance(data, dict) else None
    if not isinstance(alert, dict):
        return []
    about = f"{alert.get('type') or ''} {alert.get('target') or ''}".lower()
    if "discount" in about or "reduction" in about:
        code = str(alert.get("value") or "").strip()
        if not code:
            return []
        return [{"id": prefix, "type": "coupon_rejected", **base, "data": {"code": code[:64]}}]
    if "payment" in about:
        reason = str(alert.get("message") or "payment alert")[:200]
        return [{"id": prefix, "type": "payment_failed", **base, "data": {"reason": reason}}]
    return []
