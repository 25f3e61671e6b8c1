"""WooCommerce: order webhooks in, REST coupons out (docs/integrations/woocommerce.md).

Contract (WooCommerce REST API v3 and its webhooks):

- A webhook carries ``X-WC-Webhook-Topic`` (``order.created``, ``order.updated``),
  ``X-WC-Webhook-Signature`` (base64 HMAC-SHA256 of the raw body keyed with the webhook's
  secret) and ``X-WC-Webhook-Delivery-ID``. When a webhook is saved, WooCommerce first
  sends an unsigned, form-encoded ping (``webhook_id=<id>``): it is accepted and stores
  nothing.
- An order in status ``failed`` → ``payment_failed``; ``processing`` (paid) or
  ``completed`` → ``order_completed``, and its ``coupon_lines`` redeem our grants.
  WooCommerce has no cart webhook: cart and checkout steps come from the widget.
- ``POST /wp-json/wc/v3/coupons`` (HTTP Basic with the REST consumer key and secret):
  ``code``, ``discount_type: fixed_cart``, ``amount`` (a string), ``usage_limit: 1``,
  ``usage_limit_per_user: 1``, ``date_expires`` (the shop's time zone), ``free_shipping``
  for a waived delivery charge, ``email_restrictions`` when the customer's email is known.
  WooCommerce stores codes lower-cased, so codes are compared case-insensitively.

Pure: no Django, no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import zoneinfo
from collections.abc import Mapping
from datetime import datetime
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
from cartassist.integrations.shopify.adapter import money_string

# Order meta the shop's checkout stores (docs/integrations/woocommerce.md, step 5).
CART_META = "cartassist_cart_id"
VISITOR_META = "cartassist_visitor_id"

ORDER_TOPICS = {"order.created", "order.updated"}
PAID_STATUSES = {"processing", "completed"}
PING = re.compile(rb"^webhook_id=[0-9]{1,20}$")


def woocommerce_signature(secret: str, body: bytes) -> str:
    """The ``X-WC-Webhook-Signature`` value WooCommerce sends for ``body``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _gmt(value: Any) -> str:
    """WooCommerce's ``*_gmt`` dates have no offset: they are UTC."""
    text = str(value or "")
    return f"{text}Z" if text and not text.endswith("Z") and "+" not in text[10:] else text


def _meta(order: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(m.get("key")): str(m.get("value") or "")
        for m in order.get("meta_data") or []
        if isinstance(m, dict) and m.get("key")
    }


def order_events(order: Mapping[str, Any]) -> MappedWebhook:
    status = order.get("status")
    order_id = str(order.get("id") or "")
    meta = _meta(order)
    fallback = f"wc-order-{event_id_part(order_id)}"
    base: dict[str, Any] = {
        "cart_id": meta.get(CART_META) or fallback,
        "visitor_id": meta.get(VISITOR_META) or fallback,
    }
    customer = order.get("customer_id")
    if customer not in (None, 0, "0", ""):
        base["customer_id"] = str(customer)
    if status == "failed":
        occurred_at = _gmt(order.get("date_modified_gmt") or order.get("date_created_gmt"))
        stamp = int(datetime.fromisoformat(occurred_at.replace("Z", "+00:00")).timestamp())
        method = str(order.get("payment_method_title") or order.get("payment_method") or "")
        return MappedWebhook(
            events=[
                {
                    "id": f"wc:order:{event_id_part(order_id)}:failed:{stamp}",
                    "type": "payment_failed",
                    "occurred_at": occurred_at,
                    **base,
                    "data": {"reason": f"payment failed ({method})"[:200] if method else ""},
                }
            ]
        )
    if status in PAID_STATUSES:
        occurred_at = _gmt(
            order.get("date_paid_gmt")
            or order.get("date_completed_gmt")
            or order.get("date_created_gmt")
        )
        codes = tuple(
            str(line["code"])
            for line in order.get("coupon_lines") or []
            if isinstance(line, dict) and line.get("code")
        )
        return MappedWebhook(
            events=[
                {
                    "id": f"wc:order:{event_id_part(order_id)}:completed",
                    "type": "order_completed",
                    "occurred_at": occurred_at,
                    **base,
                    "data": {
                        "order_id": order_id,
                        "currency": order.get("currency"),
                        "total": order.get("total"),
                    },
                }
            ],
            order=OrderDiscounts(order_id=order_id, codes=codes),
        )
    return MappedWebhook()


class WooCommerceAdapter:
    platform = "woocommerce"
    label = "WooCommerce"

    def delivery(self, headers: Mapping[str, str], body: bytes) -> Delivery:
        if not header(headers, "X-WC-Webhook-Signature") and PING.match(body.strip()):
            webhook_id = body.strip().split(b"=", 1)[1].decode()
            return Delivery(delivery_id=f"ping-{webhook_id}", topic="ping", ping=True)
        delivery_id = header(headers, "X-WC-Webhook-Delivery-ID")
        topic = header(headers, "X-WC-Webhook-Topic")
        if not delivery_id or len(delivery_id) > 64:
            raise WebhookRefused(400, "X-WC-Webhook-Delivery-ID", "The delivery id is missing.")
        if not topic or len(topic) > 64:
            raise WebhookRefused(400, "X-WC-Webhook-Topic", "The webhook topic is missing.")
        return Delivery(delivery_id=delivery_id, topic=topic)

    def verify(self, connection: ConnectionInfo, headers: Mapping[str, str], body: bytes) -> None:
        sent = header(headers, "X-WC-Webhook-Signature")
        if not sent or not sent.isascii():
            raise WebhookRefused(401, "X-WC-Webhook-Signature", "The signature is missing.")
        if not any(
            hmac.compare_digest(woocommerce_signature(secret, body), sent)
            for secret in connection.webhook_secrets
            if secret
        ):
            raise WebhookRefused(
                401,
                "X-WC-Webhook-Signature",
                "Invalid signature: not signed with this webhook's secret, or altered.",
            )

    def map_webhook(
        self, connection: ConnectionInfo, delivery: Delivery, payload: dict[str, Any]
    ) -> MappedWebhook:
        if delivery.topic in ORDER_TOPICS:
            return order_events(payload)
        return MappedWebhook()

    def discount_request(self, connection: ConnectionInfo, spec: DiscountSpec) -> OutboundRequest:
        if spec.kind not in ("waive_delivery", "reduce_delivery", "discount"):
            raise RemedyUnsupported(f"WooCommerce has no native coupon for {spec.kind}.")
        waive = spec.kind == "waive_delivery"
        local = spec.ends_at.astimezone(zoneinfo.ZoneInfo(spec.timezone)).replace(tzinfo=None)
        coupon: dict[str, Any] = {
            "code": spec.code,
            "discount_type": "fixed_cart",
            # A waived delivery charge is free shipping and nothing off the items.
            "amount": "0" if waive else money_string(spec.amount),
            "description": f"CartAssist grant {spec.grant_id}",
            "individual_use": False,
            "usage_limit": 1,
            "usage_limit_per_user": 1,
            "date_expires": local.isoformat(timespec="seconds"),
            "free_shipping": waive,
        }
        if spec.customer_email:
            coupon["email_restrictions"] = [spec.customer_email]
        credentials = base64.b64encode(f"{connection.api_key}:{connection.api_secret}".encode())
        return OutboundRequest(
            method="POST",
            url=f"{connection.store_url}/wp-json/wc/v3/coupons",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Authorization": f"Basic {credentials.decode()}",
            },
            body=json.dumps(coupon).encode(),
        )

    def discount_response(self, status: int, body: bytes) -> str:
        if status_is_transient(status):
            raise DiscountUnavailable(f"WooCommerce answered {status}.")
        try:
            answer = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            answer = None
        if not 200 <= status < 300:
            message = answer.get("message") if isinstance(answer, dict) else None
            code = answer.get("code") if isinstance(answer, dict) else None
            text = f"{message} ({code})" if message and code else (message or "")
            raise DiscountRefused(text or f"WooCommerce answered {status}.", status=status)
        if not isinstance(answer, dict) or answer.get("id") is None:
            raise DiscountRefused("WooCommerce created no coupon.", status=status)
        return str(answer["id"])

    def discount_link(self, connection: ConnectionInfo, code: str) -> str:
        # Core WooCommerce has no coupon link; the snippet in the docs applies this one.
        return f"{connection.storefront_url}/checkout/?cartassist_coupon={quote(code, safe='')}"


woocommerce = register(WooCommerceAdapter())
