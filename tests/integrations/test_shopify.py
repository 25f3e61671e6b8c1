"""Shopify contract tests: the documented webhook payloads replayed against the endpoint
(signature, de-duplication, mapping to cart events) and the exact Admin GraphQL requests
that turn a grant into a discount code (docs/integrations/shopify.md)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from cartassist.core import ports
from cartassist.integrations.discounts import native_discount_create
from cartassist.integrations.models import (
    DeliveryStatus,
    DiscountStatus,
    NativeDiscount,
    PlatformConnection,
    PlatformDelivery,
)
from cartassist.integrations.services import platform_connection_save
from cartassist.integrations.shopify.adapter import (
    BASIC_CREATE,
    FREE_SHIPPING_CREATE,
    shopify_hmac,
)
from cartassist.integrations.tasks import native_discount_create_task
from cartassist.models import Cart, CartEvent, Site
from policies.models import Grant

from .conftest import SHOPIFY_SECRET, PlatformAPI, connect, issue_grant, payload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]

# The documented samples are dated 2021-12-31T19:00:00-05:00; deliveries arrive soon after.
SAMPLE_TIME = "2022-01-01T00:05:00Z"
WEBHOOK_ID = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"


def deliver(
    client: Client,
    site: Site,
    topic: str,
    body: bytes,
    *,
    secret: str = SHOPIFY_SECRET,
    webhook_id: str = WEBHOOK_ID,
    event_id: str = "",
    hmac_value: str | None = None,
) -> Any:
    headers = {
        "HTTP_X_SHOPIFY_TOPIC": topic,
        "HTTP_X_SHOPIFY_HMAC_SHA256": shopify_hmac(secret, body)
        if hmac_value is None
        else hmac_value,
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": "jsmith.myshopify.com",
        "HTTP_X_SHOPIFY_API_VERSION": "2026-07",
        "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id,
    }
    if event_id:
        headers["HTTP_X_SHOPIFY_EVENT_ID"] = event_id
    if not headers["HTTP_X_SHOPIFY_HMAC_SHA256"]:
        del headers["HTTP_X_SHOPIFY_HMAC_SHA256"]
    return client.post(
        f"/api/v1/integrations/shopify/{site.public_key}/webhooks",
        body,
        content_type="application/json",
        **headers,
    )


def stored_events(site: Site) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [
        (e.event_id, e.type, e.source, e.data)
        for e in CartEvent.objects.filter(site=site).order_by("event_id")
    ]


@pytest.fixture
def connection(shop: Site, platform_api: PlatformAPI) -> PlatformConnection:
    return connect(shop, "shopify", platform_api.url)


# --- webhooks in -----------------------------------------------------------------------


@time_machine.travel(SAMPLE_TIME, tick=False)
def test_checkout_created_becomes_a_checkout_step_and_the_cart(
    client: Client, shop: Site, connection: PlatformConnection
) -> None:
    # given the documented checkouts/create sample, signed with the app's secret
    body = json.dumps(payload("shopify/checkouts_create.json")).encode()

    # when Shopify delivers it
    response = deliver(client, shop, "checkouts/create", body, event_id="evt-1")

    # then both events are stored as trusted server events
    assert response.status_code == 200, response.content
    assert response.json()["stored"] == ["shp:123123123:contact", "shp:123123123:cart:1640995200"]
    line = {"sku": "IPOD2008PINK", "name": "IPod Nano - 8GB", "quantity": 1}
    assert stored_events(shop) == [
        ("shp:123123123:cart:1640995200", "cart_updated", "server", {
            "currency": "USD",
            "subtotal": "398.00",
            "lines": [{**line, "unit_price": "199.00", "category": ""}] * 2,
            "customer_segment": "",
        }),
        ("shp:123123123:contact", "checkout_step", "server", {"step": "contact"}),
    ]  # fmt: skip
    cart = Cart.objects.get(site=shop)
    assert (cart.external_id, cart.visitor_id, cart.customer_id) == (
        "123123123",
        "shopify-eeafa272cebfd4b22385bc4b645e762c",
        "603851970716743426",
    )
    assert (cart.currency, cart.subtotal, cart.stage, cart.totals_trusted) == (
        "USD",
        Decimal("398.000"),
        "contact",
        True,
    )
    delivery = PlatformDelivery.objects.get()
    assert (delivery.delivery_id, delivery.event_id, delivery.topic, delivery.status) == (
        WEBHOOK_ID,
        "evt-1",
        "checkouts/create",
        DeliveryStatus.APPLIED,
    )


@time_machine.travel(SAMPLE_TIME, tick=False)
def test_checkout_update_with_a_shipping_line_is_a_delivery_quote(
    client: Client, shop: Site, connection: PlatformConnection
) -> None:
    # given the checkout sample after the shopper chose a rate (the theme set the cart
    # attributes with the widget's ids, docs step 4)
    checkout = payload("shopify/checkouts_create.json")
    checkout["shipping_lines"] = [{"code": "Express", "price": "19.90", "title": "Express"}]
    checkout["note_attributes"] = [
        {"name": "cartassist_cart_id", "value": "cart_8841"},
        {"name": "cartassist_visitor_id", "value": "v_5f2c"},
    ]

    # when
    response = deliver(client, shop, "checkouts/update", json.dumps(checkout).encode())

    # then
    assert response.status_code == 200, response.content
    quote = CartEvent.objects.get(site=shop, type="shipping_quoted")
    assert (quote.event_id, quote.data) == (
        "shp:123123123:ship:1640995200",
        {"currency": "USD", "fee": "19.90", "method": "Express", "country": "US"},
    )
    cart = Cart.objects.get(site=shop)
    assert (cart.external_id, cart.visitor_id, cart.shipping_fee, cart.stage) == (
        "cart_8841",
        "v_5f2c",
        Decimal("19.900"),
        "shipping",
    )
    assert cart.shipping_country == "US"


@time_machine.travel(SAMPLE_TIME, tick=False)
@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda body, mac: (body.replace(b"398.00", b"3.98"), mac), id="body"),
        pytest.param(lambda body, mac: (body, shopify_hmac("other-secret", body)), id="secret"),
        pytest.param(lambda body, mac: (body, ""), id="missing"),
    ],
)
def test_a_tampered_or_unsigned_webhook_is_refused_and_stores_nothing(
    client: Client, shop: Site, connection: PlatformConnection, tamper: Any
) -> None:
    # given a delivery whose body or signature is not Shopify's
    body = json.dumps(payload("shopify/checkouts_create.json")).encode()
    body, mac = tamper(body, shopify_hmac(SHOPIFY_SECRET, body))

    # when
    response = deliver(client, shop, "checkouts/create", body, hmac_value=mac)

    # then 401 naming the header; nothing stored
    assert response.status_code == 401
    assert list(response.json()["errors"]) == ["X-Shopify-Hmac-Sha256"]
    assert response.json()["detail"]
    assert (CartEvent.objects.count(), Cart.objects.count(), PlatformDelivery.objects.count()) == (
        0,
        0,
        0,
    )


@time_machine.travel(SAMPLE_TIME, tick=False)
def test_a_redelivery_or_the_same_event_is_stored_once(
    client: Client, shop: Site, connection: PlatformConnection
) -> None:
    body = json.dumps(payload("shopify/checkouts_create.json")).encode()
    first = deliver(client, shop, "checkouts/create", body, event_id="evt-1")

    # when Shopify retries the delivery, then sends the same event on another delivery
    again = deliver(client, shop, "checkouts/create", body, event_id="evt-1")
    same_event = deliver(
        client, shop, "checkouts/create", body, webhook_id="other", event_id="evt-1"
    )

    # then both answer 200 without applying anything again
    assert first.status_code == again.status_code == same_event.status_code == 200
    assert again.json()["duplicate"] is True
    assert same_event.json()["duplicate"] is True
    assert PlatformDelivery.objects.count() == 1
    assert CartEvent.objects.filter(site=shop).count() == 2


@time_machine.travel(SAMPLE_TIME, tick=False)
def test_the_previous_secret_is_accepted_during_its_rotation_window(
    client: Client, shop: Site, connection: PlatformConnection
) -> None:
    # given the secret rotated in admin
    platform_connection_save(
        connection=connection, webhook_secret="shpss_new", api_secret="", now=timezone.now()
    )
    body = json.dumps(payload("shopify/checkouts_create.json")).encode()

    # then both secrets verify within the window …
    assert deliver(client, shop, "checkouts/create", body, webhook_id="a").status_code == 200
    new = deliver(client, shop, "checkouts/update", body, secret="shpss_new", webhook_id="b")
    assert new.status_code == 200

    # … and only the new one after it (24 h by default)
    with time_machine.travel(timezone.now() + timedelta(hours=24, seconds=1), tick=False):
        late = deliver(client, shop, "checkouts/update", body, webhook_id="c")
    assert late.status_code == 401


@time_machine.travel(SAMPLE_TIME, tick=False)
def test_an_unknown_site_key_or_a_disabled_connection_is_404(
    client: Client, shop: Site, connection: PlatformConnection
) -> None:
    body = json.dumps(payload("shopify/checkouts_create.json")).encode()
    PlatformConnection.objects.filter(pk=connection.pk).update(enabled=False)

    assert deliver(client, shop, "checkouts/create", body).status_code == 404
    assert CartEvent.objects.count() == 0


@time_machine.travel(SAMPLE_TIME, tick=False)
def test_topics_not_mapped_are_acknowledged_and_stored_as_ignored(
    client: Client, shop: Site, connection: PlatformConnection
) -> None:
    response = deliver(client, shop, "customers/create", b'{"id": 1}')

    assert response.status_code == 200
    assert response.json()["status"] == DeliveryStatus.IGNORED
    assert CartEvent.objects.count() == 0


# --- orders: conversion and reconciliation ---------------------------------------------


@time_machine.travel(SAMPLE_TIME, tick=False)
def test_an_order_with_our_code_completes_the_cart_and_redeems_the_grant(
    client: Client, shop: Site, connection: PlatformConnection
) -> None:
    # given a grant whose discount code Shopify created
    grant = issue_grant(shop)
    discount = NativeDiscount.objects.get(grant=grant)
    NativeDiscount.objects.filter(pk=discount.pk).update(status=DiscountStatus.CREATED)
    order = payload("shopify/orders_paid.json")
    order["checkout_token"] = "123123123"
    order["discount_codes"] = [{"code": discount.code, "amount": "9.90", "type": "shipping"}]
    body = json.dumps(order).encode()

    # when orders/create arrives, then orders/paid for the same order
    created = deliver(client, shop, "orders/create", body, webhook_id="w1")
    paid = deliver(client, shop, "orders/paid", body, webhook_id="w2")

    # then one order_completed for the checkout's cart, and the grant redeemed once
    assert created.status_code == 200, created.content
    assert created.json()["redeemed"] == [grant.token_id]
    assert paid.json()["stored"] == []
    assert paid.json()["duplicates"] == ["shp:order:820982911946154508:completed"]
    event = CartEvent.objects.get(site=shop, type="order_completed")
    assert (event.cart.external_id, event.data) == (
        "123123123",
        {"order_id": "820982911946154508", "currency": "USD", "total": "404.95"},
    )
    grant.refresh_from_db()
    assert (grant.order_id, grant.idempotency_key) == (
        "820982911946154508",
        "shopify:820982911946154508",
    )
    assert grant.redeemed_at is not None
    discount.refresh_from_db()
    assert (discount.status, discount.order_id) == (DiscountStatus.REDEEMED, "820982911946154508")


# --- grant → discount code -------------------------------------------------------------


def test_issuing_a_grant_records_the_discount_and_enqueues_it_on_commit(
    shop: Site,
    connection: PlatformConnection,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queued: list[int] = []
    with ports.native_discount_dispatch.override(queued.append):
        with django_capture_on_commit_callbacks() as callbacks:
            grant = issue_grant(shop)
            assert queued == []  # not before the commit
        for callback in callbacks:
            callback()

    discount = NativeDiscount.objects.get(grant=grant)
    assert (discount.code, discount.status, discount.connection_id) == (
        f"CA-{grant.token_id.upper()}",
        DiscountStatus.PENDING,
        connection.pk,
    )
    assert discount.link == (f"{connection.store_url}/discount/{discount.code}?redirect=/checkout")
    assert queued == [discount.pk]


def test_a_waived_delivery_charge_becomes_a_free_shipping_code(
    shop: Site, connection: PlatformConnection, platform_api: PlatformAPI
) -> None:
    # given a grant waiving 9.90 of delivery; Shopify accepts the mutation
    grant = issue_grant(shop, kind="waive_delivery", amount="9.90")
    discount = NativeDiscount.objects.get(grant=grant)
    platform_api.answer(200, payload("shopify/discount_created.json"))

    # when the task runs
    native_discount_create_task.apply(args=(discount.pk,))

    # then exactly the documented request was sent
    [request] = platform_api.requests
    assert (request.method, request.path) == ("POST", "/admin/api/2026-07/graphql.json")
    assert request.headers["X-Shopify-Access-Token"] == "shpat_7c1e9d"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "query": FREE_SHIPPING_CREATE,
        "variables": {
            "freeShippingCodeDiscount": {
                "title": f"CartAssist grant {grant.token_id}",
                "code": discount.code,
                "startsAt": grant.issued_at.isoformat().replace("+00:00", "Z"),
                "endsAt": grant.expires_at.isoformat().replace("+00:00", "Z"),
                "usageLimit": 1,
                "appliesOncePerCustomer": True,
                "context": {"all": "ALL"},
                "destination": {"all": True},
            }
        },
    }
    discount.refresh_from_db()
    assert (discount.status, discount.platform_id, discount.error, discount.attempts) == (
        DiscountStatus.CREATED,
        "gid://shopify/DiscountCodeNode/1057371206",
        "",
        1,
    )


def test_a_discount_for_a_known_customer_is_limited_to_that_customer(
    shop: Site, connection: PlatformConnection, platform_api: PlatformAPI
) -> None:
    # given a grant on the cart of a Shopify customer (set by a signed checkout webhook)
    grant = issue_grant(shop, kind="discount", amount="15.00")
    Cart.objects.filter(pk=grant.cart_id).update(
        customer_id="603851970716743426", customer_verified=True
    )
    platform_api.answer(200, payload("shopify/discount_created.json"))

    native_discount_create(discount_id=grant.native_discount.pk, now=timezone.now())

    [request] = platform_api.requests
    sent = request.json()
    assert sent["query"] == BASIC_CREATE
    assert sent["variables"]["basicCodeDiscount"]["context"] == {
        "customers": {"add": ["gid://shopify/Customer/603851970716743426"]}
    }
    assert sent["variables"]["basicCodeDiscount"]["customerGets"] == {
        "value": {"discountAmount": {"amount": "15.00", "appliesOnEachItem": False}},
        "items": {"all": True},
    }


def test_user_errors_are_a_refusal_recorded_and_shown_in_admin(
    admin_client: Client, shop: Site, connection: PlatformConnection, platform_api: PlatformAPI
) -> None:
    grant = issue_grant(shop)
    platform_api.answer(200, payload("shopify/discount_user_errors.json"))

    attempt = native_discount_create(discount_id=grant.native_discount.pk, now=timezone.now())

    assert attempt is not None
    assert (attempt.status, attempt.retry_in) == ("refused", None)
    discount = NativeDiscount.objects.get(grant=grant)
    assert discount.error == (
        "HTTP 200: freeShippingCodeDiscount.code: Code must be unique. Please try a different code."
    )
    listing = admin_client.get("/admin/integrations/nativediscount/").content.decode()
    assert "Refused by the platform" in listing
    assert "Code must be unique. Please try a different code." in listing
    page = admin_client.get(f"/admin/integrations/platformconnection/{connection.pk}/change/")
    assert "1 discount(s) not created." in page.content.decode()


@pytest.mark.parametrize("status", [401, 403, 422])
def test_a_client_error_is_a_refusal(
    shop: Site, connection: PlatformConnection, platform_api: PlatformAPI, status: int
) -> None:
    grant = issue_grant(shop)
    platform_api.answer(status, {"errors": "[API] Invalid API key or access token"})

    native_discount_create(discount_id=grant.native_discount.pk, now=timezone.now())

    discount = NativeDiscount.objects.get(grant=grant)
    assert (discount.status, discount.error) == (
        DiscountStatus.REFUSED,
        f"HTTP {status}: [API] Invalid API key or access token",
    )


def test_an_unavailable_platform_is_retried_with_back_off_then_given_up(
    shop: Site, connection: PlatformConnection, platform_api: PlatformAPI, settings: Any
) -> None:
    settings.CARTASSIST_PLATFORM_MAX_ATTEMPTS = 3
    grant = issue_grant(shop)
    discount_id = grant.native_discount.pk
    platform_api.answer(503, b"")
    platform_api.answer(429, {"errors": [{"message": "Throttled"}]})
    platform_api.answer(
        200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
    )

    attempts = [native_discount_create(discount_id=discount_id, now=timezone.now()) for _ in "abc"]

    assert [(a.status, a.retry_in) for a in attempts if a] == [
        ("failed", timedelta(seconds=10)),
        ("failed", timedelta(seconds=30)),
        ("failed", None),
    ]
    discount = NativeDiscount.objects.get(pk=discount_id)
    assert discount.attempts == 3
    assert discount.error.endswith("no more automatic attempts; retry from admin.")
    assert len(platform_api.requests) == 3


def test_an_unreachable_platform_fails_with_a_clear_error(
    shop: Site, connection: PlatformConnection
) -> None:
    PlatformConnection.objects.filter(pk=connection.pk).update(store_url="http://127.0.0.1:9")
    grant = issue_grant(shop)

    attempt = native_discount_create(discount_id=grant.native_discount.pk, now=timezone.now())

    assert attempt is not None
    assert attempt.status == "failed"
    assert "Shopify unreachable" in NativeDiscount.objects.get(grant=grant).error


def test_a_created_discount_is_not_sent_again(
    shop: Site, connection: PlatformConnection, platform_api: PlatformAPI
) -> None:
    grant = issue_grant(shop)
    platform_api.answer(200, payload("shopify/discount_created.json"))
    native_discount_create(discount_id=grant.native_discount.pk, now=timezone.now())

    again = native_discount_create(discount_id=grant.native_discount.pk, now=timezone.now())

    assert again is None
    assert len(platform_api.requests) == 1


def test_a_site_without_a_connection_gets_no_native_discount(shop: Site) -> None:
    grant = issue_grant(shop)

    assert not NativeDiscount.objects.filter(grant=grant).exists()
    assert Grant.objects.filter(pk=grant.pk).exists()
