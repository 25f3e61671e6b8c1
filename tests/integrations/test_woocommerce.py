"""WooCommerce contract tests: the set-up ping, signed order webhooks (the documented order
resource), de-duplication by delivery id, failed → payment failed, paid → order completed
with its coupon lines redeeming our grants, and the exact REST coupon request
(docs/integrations/woocommerce.md)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from cartassist.integrations.discounts import native_discount_create
from cartassist.integrations.models import (
    DiscountStatus,
    NativeDiscount,
    PlatformConnection,
    PlatformDelivery,
)
from cartassist.integrations.woocommerce.adapter import woocommerce_signature
from cartassist.models import Cart, CartEvent, Site

from .conftest import WOO_SECRET, PlatformAPI, connect, issue_grant, payload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]

# The documented order was paid at 2017-03-22T19:28:08 (GMT).
SAMPLE_TIME = "2017-03-22T19:30:00Z"


def deliver(
    client: Client,
    site: Site,
    order: dict[str, Any],
    *,
    topic: str = "order.updated",
    delivery_id: str = "36e520ebabc2fa725092ff4a47acedf2",
    signature: str | None = None,
) -> Any:
    """As WC_Webhook::deliver sends it."""
    body = json.dumps(order).encode()
    resource, event = topic.split(".")
    return client.post(
        f"/api/v1/integrations/woocommerce/{site.public_key}/webhooks",
        body,
        content_type="application/json",
        HTTP_USER_AGENT="WooCommerce/9.4.0 Hookshot (WordPress/6.7)",
        HTTP_X_WC_WEBHOOK_SOURCE="https://shop.example/",
        HTTP_X_WC_WEBHOOK_TOPIC=topic,
        HTTP_X_WC_WEBHOOK_RESOURCE=resource,
        HTTP_X_WC_WEBHOOK_EVENT=event,
        HTTP_X_WC_WEBHOOK_SIGNATURE=(
            woocommerce_signature(WOO_SECRET, body) if signature is None else signature
        ),
        HTTP_X_WC_WEBHOOK_ID="3",
        HTTP_X_WC_WEBHOOK_DELIVERY_ID=delivery_id,
    )


@pytest.fixture
def connection(shop: Site, platform_api: PlatformAPI) -> PlatformConnection:
    return connect(shop, "woocommerce", platform_api.url)


def with_cartassist_meta(order: dict[str, Any]) -> dict[str, Any]:
    """The order as saved by a checkout with the documented snippet (docs step 5)."""
    order["meta_data"] = [
        *order["meta_data"],
        {"id": 13110, "key": "cartassist_cart_id", "value": "cart_8841"},
        {"id": 13111, "key": "cartassist_visitor_id", "value": "v_5f2c"},
    ]
    return order


def test_the_first_ping_is_accepted_and_stores_nothing(
    client: Client, shop: Site, connection: PlatformConnection
) -> None:
    # when WooCommerce saves the webhook it pings the URL: form-encoded, unsigned
    response = client.post(
        f"/api/v1/integrations/woocommerce/{shop.public_key}/webhooks",
        b"webhook_id=3",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert response.json() == {
        "ping": True,
        "duplicate": False,
        "status": "",
        "stored": [],
        "duplicates": [],
        "redeemed": [],
    }
    assert PlatformDelivery.objects.count() == 0


def test_a_form_body_that_is_not_a_ping_is_refused(
    client: Client, shop: Site, connection: PlatformConnection
) -> None:
    response = client.post(
        f"/api/v1/integrations/woocommerce/{shop.public_key}/webhooks",
        b"webhook_id=3&status=completed",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400
    assert PlatformDelivery.objects.count() == 0


@time_machine.travel(SAMPLE_TIME, tick=False)
def test_a_paid_order_is_an_order_completed_event(
    client: Client, shop: Site, connection: PlatformConnection
) -> None:
    # given the documented order (status processing: paid), saved with our meta
    order = with_cartassist_meta(payload("woocommerce/order_727.json"))

    response = deliver(client, shop, order, topic="order.created")

    assert response.status_code == 200, response.content
    event = CartEvent.objects.get(site=shop)
    assert (event.event_id, event.type, event.source, event.data) == (
        "wc:order:727:completed",
        "order_completed",
        "server",
        {"order_id": "727", "currency": "USD", "total": "29.35"},
    )
    assert event.occurred_at == datetime.fromisoformat("2017-03-22T19:28:08+00:00")
    cart = Cart.objects.get(site=shop)
    assert (cart.external_id, cart.visitor_id, cart.status) == ("cart_8841", "v_5f2c", "converted")


@time_machine.travel(SAMPLE_TIME, tick=False)
def test_a_failed_payment_is_a_payment_failed_event(
    client: Client, shop: Site, connection: PlatformConnection
) -> None:
    order = with_cartassist_meta(payload("woocommerce/order_727.json"))
    order.update(status="failed", date_paid=None, date_paid_gmt=None, customer_id=26)

    response = deliver(client, shop, order)

    assert response.status_code == 200, response.content
    event = CartEvent.objects.get(site=shop)
    assert (event.event_id, event.type, event.data) == (
        "wc:order:727:failed:1490210888",
        "payment_failed",
        {"reason": "payment failed (Direct Bank Transfer)"},
    )
    cart = Cart.objects.get(site=shop)
    assert (cart.stage, cart.customer_id) == ("payment", "26")


@time_machine.travel(SAMPLE_TIME, tick=False)
@pytest.mark.parametrize("status", ["pending", "on-hold", "cancelled", "refunded"])
def test_other_statuses_are_acknowledged_without_events(
    client: Client, shop: Site, connection: PlatformConnection, status: str
) -> None:
    order = payload("woocommerce/order_727.json")
    order["status"] = status

    response = deliver(client, shop, order)

    assert (response.status_code, response.json()["status"]) == (200, "ignored")
    assert CartEvent.objects.count() == 0


@time_machine.travel(SAMPLE_TIME, tick=False)
def test_a_tampered_delivery_is_refused_and_a_redelivery_stored_once(
    client: Client, shop: Site, connection: PlatformConnection
) -> None:
    order = payload("woocommerce/order_727.json")
    forged = woocommerce_signature("not-the-secret", json.dumps(order).encode())

    refused = deliver(client, shop, order, signature=forged)
    first = deliver(client, shop, order)
    again = deliver(client, shop, order)

    assert refused.status_code == 401
    assert list(refused.json()["errors"]) == ["X-WC-Webhook-Signature"]
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["duplicate"] is True
    assert (PlatformDelivery.objects.count(), CartEvent.objects.count()) == (1, 1)


@time_machine.travel(SAMPLE_TIME, tick=False)
def test_the_coupon_line_of_our_code_redeems_the_grant(
    client: Client, shop: Site, connection: PlatformConnection
) -> None:
    # given a grant whose coupon WooCommerce created (and stores lower-cased)
    grant = issue_grant(shop)
    discount = NativeDiscount.objects.get(grant=grant)
    NativeDiscount.objects.filter(pk=discount.pk).update(status=DiscountStatus.CREATED)
    order = payload("woocommerce/order_727.json")
    order["coupon_lines"] = [
        {"id": 320, "code": discount.code.lower(), "discount": "0.00", "discount_tax": "0.00"}
    ]

    response = deliver(client, shop, order, topic="order.updated")

    assert response.json()["redeemed"] == [grant.token_id]
    grant.refresh_from_db()
    assert (grant.order_id, grant.idempotency_key) == ("727", "woocommerce:727")
    discount.refresh_from_db()
    assert discount.status == DiscountStatus.REDEEMED


def test_a_grant_becomes_a_rest_coupon(
    shop: Site, connection: PlatformConnection, platform_api: PlatformAPI
) -> None:
    # given a grant of 9.90 off the delivery charge, issued at a known time
    with time_machine.travel("2026-12-04T08:00:00Z", tick=False):
        grant = issue_grant(shop, kind="reduce_delivery", amount="9.90")
    platform_api.answer(201, payload("woocommerce/coupon_created.json"))

    native_discount_create(discount_id=grant.native_discount.pk, now=timezone.now())

    [request] = platform_api.requests
    assert (request.method, request.path) == ("POST", "/wp-json/wc/v3/coupons")
    assert (
        request.headers["Authorization"] == "Basic " + base64.b64encode(b"ck_4f2a:cs_9b3d").decode()
    )
    assert request.headers["Content-Type"] == "application/json"
    code = grant.native_discount.code
    assert request.json() == {
        "code": code,
        "discount_type": "fixed_cart",
        "amount": "9.90",
        "description": f"CartAssist grant {grant.token_id}",
        "individual_use": False,
        "usage_limit": 1,
        "usage_limit_per_user": 1,
        # two hours (CARTASSIST_GRANT_TTL) later, in the shop's time zone (New York)
        "date_expires": "2026-12-04T05:00:00",
        "free_shipping": False,
    }
    discount = NativeDiscount.objects.get(grant=grant)
    assert (discount.status, discount.platform_id) == (DiscountStatus.CREATED, "719")
    assert discount.link == f"{connection.store_url}/checkout/?cartassist_coupon={code}"


def test_a_waived_delivery_charge_is_a_free_shipping_coupon(
    shop: Site, connection: PlatformConnection, platform_api: PlatformAPI
) -> None:
    grant = issue_grant(shop, kind="waive_delivery", amount="9.90")
    platform_api.answer(201, payload("woocommerce/coupon_created.json"))

    native_discount_create(discount_id=grant.native_discount.pk, now=timezone.now())

    sent = platform_api.requests[0].json()
    assert (sent["amount"], sent["free_shipping"], sent["discount_type"]) == (
        "0",
        True,
        "fixed_cart",
    )


def test_a_refused_coupon_is_recorded_with_woocommerces_message(
    shop: Site, connection: PlatformConnection, platform_api: PlatformAPI
) -> None:
    grant = issue_grant(shop)
    platform_api.answer(400, payload("woocommerce/coupon_refused.json"))

    native_discount_create(discount_id=grant.native_discount.pk, now=timezone.now())

    discount = NativeDiscount.objects.get(grant=grant)
    assert (discount.status, discount.error) == (
        DiscountStatus.REFUSED,
        "HTTP 400: The coupon code already exists (woocommerce_rest_coupon_code_already_exists)",
    )
    assert discount.platform_id == ""
    assert Decimal(grant.amount or 0) == Decimal("9.90")
