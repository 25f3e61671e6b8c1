"""Shopify: webhooks in, Admin GraphQL discount codes out (docs/integrations/shopify.md).

Contract (shopify.dev, API version ``SHOPIFY_API_VERSION``):

- Webhooks carry ``X-Shopify-Topic``, ``X-Shopify-Hmac-Sha256`` (base64 HMAC-SHA256 of
  the raw body keyed with the app's client secret), ``X-Shopify-Webhook-Id`` (the same on
  every retry of one delivery) and ``X-Shopify-Event-Id`` (the event behind it).
- Topics mapped: ``checkouts/create``, ``checkouts/update``, ``orders/create``,
  ``orders/paid``. Others are acknowledged and ignored.
- ``discountCodeBasicCreate`` (an amount off the order) and
  ``discountCodeFreeShippingCreate`` (the delivery charge waived): ``usageLimit: 1``,
  ``appliesOncePerCustomer``, ``startsAt``/``endsAt`` and ``context`` (which replaced
  ``customerSelection``): the customer when the cart names one, else all buyers.

Pure: no Django, no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from cartassist.integrations.base import (
    ConnectionInfo,
    Delivery,
    DiscountRefused,
    DiscountSpec,
    DiscountUnavailable,
    MappedWebhook,
    OrderDiscounts,
    OutboundRequest,
    RemedyUnsupported,
    WebhookRefused,
    event_id_part,
    header,
    register,
    status_is_transient,
)

SHOPIFY_API_VERSION = "2026-07"

# Cart attributes the theme snippet sets (docs/integrations/shopify.md, step 4); Shopify
# copies them onto the checkout and the order as ``note_attributes``.
CART_ATTRIBUTE = "cartassist_cart_id"
VISITOR_ATTRIBUTE = "cartassist_visitor_id"

BASIC_CREATE = """
mutation discountCodeBasicCreate($basicCodeDiscount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {
    codeDiscountNode { id }
    userErrors { field code message }
  }
}
""".strip()

FREE_SHIPPING_CREATE = """
mutation discountCodeFreeShippingCreate($freeShippingCodeDiscount: DiscountCodeFreeShippingInput!) {
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $freeShippingCodeDiscount) {
    codeDiscountNode { id }
    userErrors { field code message }
  }
}
""".strip()

CHECKOUT_TOPICS = {"checkouts/create", "checkouts/update"}
ORDER_TOPICS = {"orders/create", "orders/paid"}


def shopify_hmac(secret: str, body: bytes) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value Shopify sends for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _epoch(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp())


def attributes(payload: Mapping[str, Any]) -> dict[str, str]:
    """``note_attributes`` ([{name, value}]) as a dict."""
    found: dict[str, str] = {}
    for item in payload.get("note_attributes") or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            found[item["name"]] = str(item.get("value") or "")
    return found


def _customer_id(payload: Mapping[str, Any]) -> str:
    customer = payload.get("customer")
    if isinstance(customer, dict) and customer.get("id") is not None:
        return str(customer["id"])
    return ""


def _identity(payload: Mapping[str, Any], *, fallback_cart: str) -> dict[str, Any]:
    attrs = attributes(payload)
    cart_id = attrs.get(CART_ATTRIBUTE) or fallback_cart
    browser = payload.get("cart_token") or payload.get("checkout_token") or fallback_cart
    identity: dict[str, Any] = {
        "cart_id": cart_id,
        "visitor_id": attrs.get(VISITOR_ATTRIBUTE) or f"shopify-{event_id_part(browser, 48)}",
    }
    customer = _customer_id(payload)
    if customer:
        identity["customer_id"] = customer
    return identity


def _currency(payload: Mapping[str, Any]) -> str:
    return str(payload.get("presentment_currency") or payload.get("currency") or "")


def checkout_events(topic: str, payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A checkout → ``checkout_step`` (created), ``cart_updated``, ``shipping_quoted``."""
    token = event_id_part(payload.get("token") or "", 32)
    occurred_at = str(payload.get("updated_at") or payload.get("created_at") or "")
    identity = _identity(payload, fallback_cart=token)
    stamp = _epoch(occurred_at) if occurred_at else 0
    currency = _currency(payload)
    events: list[dict[str, Any]] = []
    if topic == "checkouts/create":
        events.append(
            {
                "id": f"shp:{token}:contact",
                "type": "checkout_step",
                "occurred_at": occurred_at,
                **identity,
                "data": {"step": "contact"},
            }
        )
    events.append(
        {
            "id": f"shp:{token}:cart:{stamp}",
            "type": "cart_updated",
            "occurred_at": occurred_at,
            **identity,
            "data": {
                "currency": currency,
                "subtotal": payload.get("subtotal_price"),
                "lines": [_line(item) for item in payload.get("line_items") or []],
            },
        }
    )
    shipping = [s for s in payload.get("shipping_lines") or [] if isinstance(s, dict)]
    if shipping:
        events.append(
            {
                "id": f"shp:{token}:ship:{stamp}",
                "type": "shipping_quoted",
                "occurred_at": occurred_at,
                **identity,
                "data": {
                    "currency": currency,
                    "fee": shipping[0].get("price"),
                    "method": str(shipping[0].get("title") or shipping[0].get("code") or "")[:64],
                    "country": _country(payload),
                },
            }
        )
    return events


def _country(payload: Mapping[str, Any]) -> str:
    """The shipping address's ISO country code ("" when absent or not two letters)."""
    address = payload.get("shipping_address")
    code = address.get("country_code") if isinstance(address, dict) else None
    return code if isinstance(code, str) and len(code) == 2 and code.isupper() else ""


def _line(item: Mapping[str, Any]) -> dict[str, Any]:
    sku = item.get("sku") or item.get("variant_id") or item.get("product_id") or "item"
    return {
        "sku": str(sku)[:64],
        "name": str(item.get("title") or item.get("name") or sku)[:200],
        "quantity": item.get("quantity"),
        "unit_price": item.get("price"),
    }


def order_events(payload: Mapping[str, Any]) -> tuple[list[dict[str, Any]], OrderDiscounts]:
    """An order → ``order_completed`` (one event id for orders/create and orders/paid, so
    the second is a duplicate) and the discount codes it used."""
    order_id = str(payload.get("id") or "")
    checkout = event_id_part(payload.get("checkout_token") or "", 32)
    identity = _identity(payload, fallback_cart=checkout or f"shopify-order-{order_id}")
    total, currency = payload.get("total_price"), _currency(payload)
    presentment = (payload.get("total_price_set") or {}).get("presentment_money")
    if isinstance(presentment, dict) and presentment.get("amount") is not None:
        total, currency = presentment["amount"], str(presentment.get("currency_code") or currency)
    event = {
        "id": f"shp:order:{event_id_part(order_id)}:completed",
        "type": "order_completed",
        "occurred_at": str(payload.get("created_at") or payload.get("processed_at") or ""),
        **identity,
        "data": {"order_id": order_id, "currency": currency, "total": total},
    }
    codes = tuple(
        str(d["code"])
        for d in payload.get("discount_codes") or []
        if isinstance(d, dict) and d.get("code")
    )
    return [event], OrderDiscounts(order_id=order_id, codes=codes)


def discount_input(spec: DiscountSpec) -> dict[str, Any]:
    """The fields both mutations share."""
    if spec.customer_id.isdigit():
        context: dict[str, Any] = {
            "customers": {"add": [f"gid://shopify/Customer/{spec.customer_id}"]}
        }
    else:
        context = {"all": "ALL"}
    return {
        "title": f"CartAssist grant {spec.grant_id}",
        "code": spec.code,
        "startsAt": iso_utc(spec.starts_at),
        "endsAt": iso_utc(spec.ends_at),
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
        "context": context,
    }


def money_string(amount: Decimal | None) -> str:
    return format(amount or Decimal(0), "f")


class ShopifyAdapter:
    platform = "shopify"
    label = "Shopify"

    def delivery(self, headers: Mapping[str, str], body: bytes) -> Delivery:
        delivery_id = header(headers, "X-Shopify-Webhook-Id")
        topic = header(headers, "X-Shopify-Topic")
        if not delivery_id or len(delivery_id) > 64:
            raise WebhookRefused(400, "X-Shopify-Webhook-Id", "The webhook id is missing.")
        if not topic or len(topic) > 64:
            raise WebhookRefused(400, "X-Shopify-Topic", "The webhook topic is missing.")
        return Delivery(
            delivery_id=delivery_id,
            topic=topic,
            event_id=header(headers, "X-Shopify-Event-Id")[:64],
        )

    def verify(self, connection: ConnectionInfo, headers: Mapping[str, str], body: bytes) -> None:
        sent = header(headers, "X-Shopify-Hmac-Sha256")
        if not sent or not sent.isascii():
            raise WebhookRefused(401, "X-Shopify-Hmac-Sha256", "The HMAC header is missing.")
        if not any(
            hmac.compare_digest(shopify_hmac(secret, body), sent)
            for secret in connection.webhook_secrets
            if secret
        ):
            raise WebhookRefused(
                401,
                "X-Shopify-Hmac-Sha256",
                "Invalid signature: not signed with this shop's webhook secret, or altered.",
            )

    def map_webhook(
        self, connection: ConnectionInfo, delivery: Delivery, payload: dict[str, Any]
    ) -> MappedWebhook:
        if delivery.topic in CHECKOUT_TOPICS:
            return MappedWebhook(events=checkout_events(delivery.topic, payload))
        if delivery.topic in ORDER_TOPICS:
            events, order = order_events(payload)
            return MappedWebhook(events=events, order=order)
        return MappedWebhook()

    def discount_request(self, connection: ConnectionInfo, spec: DiscountSpec) -> OutboundRequest:
        fields = discount_input(spec)
        if spec.kind == "waive_delivery":
            query = FREE_SHIPPING_CREATE
            variables = {"freeShippingCodeDiscount": {**fields, "destination": {"all": True}}}
        elif spec.kind in ("discount", "reduce_delivery"):
            # Shopify has no code for part of the delivery charge: the same amount comes
            # off the order instead (docs/integrations/shopify.md, "Remedies").
            query = BASIC_CREATE
            variables = {
                "basicCodeDiscount": {
                    **fields,
                    "customerGets": {
                        "value": {
                            "discountAmount": {
                                "amount": money_string(spec.amount),
                                "appliesOnEachItem": False,
                            }
                        },
                        "items": {"all": True},
                    },
                }
            }
        else:
            raise RemedyUnsupported(f"Shopify has no native discount for {spec.kind}.")
        return OutboundRequest(
            method="POST",
            url=f"{connection.store_url}/admin/api/{connection.api_version}/graphql.json",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "X-Shopify-Access-Token": connection.api_secret,
            },
            body=json.dumps({"query": query, "variables": variables}).encode(),
        )

    def discount_response(self, status: int, body: bytes) -> str:
        if status_is_transient(status):
            raise DiscountUnavailable(f"Shopify answered {status}.")
        answer = _json_or_none(body)
        if not 200 <= status < 300:
            raise DiscountRefused(_shopify_message(answer, status), status=status)
        if not isinstance(answer, dict):
            raise DiscountUnavailable("Shopify's answer is not JSON.")
        errors = answer.get("errors")
        if errors:
            if any(
                isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED"
                for e in errors
            ):
                raise DiscountUnavailable("Shopify throttled the request.")
            raise DiscountRefused(_shopify_message(answer, status), status=status)
        result = next(iter((answer.get("data") or {}).values()), None) or {}
        user_errors = result.get("userErrors") or []
        if user_errors:
            raise DiscountRefused(
                "; ".join(
                    f"{'.'.join(map(str, e.get('field') or []))}: {e.get('message')}"
                    for e in user_errors
                ),
                status=status,
            )
        node = result.get("codeDiscountNode") or {}
        if not node.get("id"):
            raise DiscountRefused("Shopify created no discount.", status=status)
        return str(node["id"])

    def discount_link(self, connection: ConnectionInfo, code: str) -> str:
        return f"{connection.storefront_url}/discount/{quote(code, safe='')}?redirect=/checkout"


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _shopify_message(answer: Any, status: int) -> str:
    if isinstance(answer, dict):
        errors = answer.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(str(e.get("message") if isinstance(e, dict) else e) for e in errors)[
                :500
            ]
        if errors:
            return str(errors)[:500]
    return f"Shopify answered {status}."


shopify = register(ShopifyAdapter())
