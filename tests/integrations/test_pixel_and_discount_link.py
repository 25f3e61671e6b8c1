"""The Shopify Web Pixel intake (sandboxed, ``Origin: null``) and the page's question "what is
the code of my grant?" (docs/integrations/shopify.md, "The pixel" and "The discount link")."""

from __future__ import annotations

import json
from typing import Any

import pytest
import time_machine
from django.test import Client

from cartassist.integrations.base import adapter_for, platforms
from cartassist.integrations.models import DiscountStatus, NativeDiscount, PlatformConnection
from cartassist.models import Cart, CartEvent, Site
from policies.services.grants import grant_token

from .conftest import PlatformAPI, connect, issue_grant, payload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]

PIXEL_TIME = "2026-12-04T08:02:00Z"


def pixel_post(
    client: Client, site: Site, event: dict[str, Any], origin: str = "null", **extra: Any
):
    body = {"site_key": site.public_key, "event": event, **extra}
    return client.post(
        "/api/v1/integrations/shopify/pixel",
        json.dumps(body),
        content_type="text/plain",
        HTTP_ORIGIN=origin,
    )


@time_machine.travel(PIXEL_TIME, tick=False)
def test_shipping_info_from_the_sandboxed_pixel_is_a_step_the_lines_and_a_quote(
    client: Client, shop: Site
) -> None:
    event = payload("shopify/pixel_checkout_shipping_info_submitted.json")

    response = pixel_post(client, shop, event, visitor_id="v_5f2c")

    assert response.status_code == 200, response.content
    prefix = "pxl:sh-88153c5a-8F2D-4CCA-3231-EF5C032A4C3B"
    assert sorted(response.json()["stored"]) == [f"{prefix}:c", f"{prefix}:q", f"{prefix}:s"]
    rows = {e.type: (e.source, e.data) for e in CartEvent.objects.filter(site=shop)}
    assert rows["checkout_step"] == ("widget", {"step": "shipping"})
    assert rows["shipping_quoted"] == (
        "widget",
        {"currency": "USD", "fee": "19.90", "method": "Express", "country": ""},
    )
    assert rows["cart_updated"][1]["subtotal"] == "398.00"
    cart = Cart.objects.get(site=shop)
    assert (cart.external_id, cart.visitor_id, cart.stage, cart.signal) == (
        "123123123",
        "v_5f2c",
        "shipping",
        "shipping_quoted",
    )


@time_machine.travel(PIXEL_TIME, tick=False)
def test_a_rejected_discount_code_alert_is_a_coupon_rejected(client: Client, shop: Site) -> None:
    event = payload("shopify/pixel_alert_displayed.json")

    response = pixel_post(client, shop, event, cart_id="123123123")

    assert response.status_code == 200, response.content
    rejected = CartEvent.objects.get(site=shop)
    assert (rejected.type, rejected.data, rejected.cart.external_id) == (
        "coupon_rejected",
        {"code": "SPRING50"},
        "123123123",
    )
    # the visitor falls back to Shopify's clientId
    assert rejected.visitor_id == "c7d9a5f6-1b2e-4f3a-9c8d-0e1f2a3b4c5d"


@time_machine.travel(PIXEL_TIME, tick=False)
def test_an_event_from_a_page_not_on_the_allow_list_is_refused(client: Client, shop: Site) -> None:
    event = payload("shopify/pixel_checkout_shipping_info_submitted.json")
    event["context"]["document"]["location"]["origin"] = "https://evil.example"

    response = pixel_post(client, shop, event)

    assert response.status_code == 403
    assert list(response.json()["errors"]) == ["event"]
    assert CartEvent.objects.count() == 0


@time_machine.travel(PIXEL_TIME, tick=False)
@pytest.mark.parametrize("origin", ["https://evil.example", ""])
def test_a_browser_origin_must_be_null_or_allowed(client: Client, shop: Site, origin: str) -> None:
    event = payload("shopify/pixel_checkout_shipping_info_submitted.json")

    response = pixel_post(client, shop, event, origin=origin)

    assert response.status_code == 403
    assert CartEvent.objects.count() == 0


@time_machine.travel(PIXEL_TIME, tick=False)
def test_other_pixel_events_are_accepted_and_ignored(client: Client, shop: Site) -> None:
    event = payload("shopify/pixel_alert_displayed.json")
    event["name"] = "page_viewed"

    response = pixel_post(client, shop, event)

    assert (response.status_code, response.json()) == (200, {"stored": [], "duplicates": []})


# --- the discount link ----------------------------------------------------------------


@pytest.fixture
def created(shop: Site, platform_api: PlatformAPI) -> tuple[NativeDiscount, str]:
    connection = connect(shop, "shopify", platform_api.url, storefront_url="https://shop.example")
    grant = issue_grant(shop)
    discount = NativeDiscount.objects.get(grant=grant)
    assert discount.connection == connection
    return discount, grant_token(grant)


def ask(client: Client, site: Site, token: str, origin: str = "https://shop.example"):
    return client.post(
        "/api/v1/integrations/discount",
        json.dumps({"site_key": site.public_key, "token": token}),
        content_type="text/plain",
        HTTP_ORIGIN=origin,
    )


def test_the_page_gets_the_code_and_link_once_created(
    client: Client, shop: Site, created: tuple[NativeDiscount, str]
) -> None:
    discount, token = created

    pending = ask(client, shop, token)
    NativeDiscount.objects.filter(pk=discount.pk).update(status=DiscountStatus.CREATED)
    ready = ask(client, shop, token)

    assert (pending.status_code, pending.json()) == (
        202,
        {"status": "pending", "code": None, "url": None},
    )
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "created",
        "code": discount.code,
        "url": f"https://shop.example/discount/{discount.code}?redirect=/checkout",
    }
    assert ready["Access-Control-Allow-Origin"] == "https://shop.example"


def test_a_refusal_is_explained_to_the_page(
    client: Client, shop: Site, created: tuple[NativeDiscount, str]
) -> None:
    discount, token = created
    NativeDiscount.objects.filter(pk=discount.pk).update(
        status=DiscountStatus.REFUSED, error="HTTP 403: access denied"
    )

    response = ask(client, shop, token)

    assert response.status_code == 409
    assert response.json()["detail"] == "HTTP 403: access denied"


def test_a_token_of_another_site_or_an_origin_not_allowed_is_refused(
    client: Client, shop: Site, created: tuple[NativeDiscount, str]
) -> None:
    _, token = created
    other = Site.objects.create(name="Other", allowed_origins=["https://other.example"])

    assert ask(client, other, token, origin="https://other.example").status_code == 403
    assert ask(client, shop, token, origin="https://evil.example").status_code == 403
    assert ask(client, shop, token + "x").status_code == 403


# --- the adapter interface -------------------------------------------------------------


def test_both_adapters_are_registered_behind_one_interface() -> None:
    assert platforms() == [("shopify", "Shopify"), ("woocommerce", "WooCommerce")]
    for name, _ in platforms():
        adapter = adapter_for(name)
        for method in ("delivery", "verify", "map_webhook", "discount_request"):
            assert callable(getattr(adapter, method))


def test_connections_are_one_per_site_and_platform(shop: Site) -> None:
    connect(shop, "shopify", "https://jsmith.myshopify.com")
    with pytest.raises(Exception, match="one_connection_per_platform|UNIQUE|unique"):
        PlatformConnection.objects.create(site=shop, platform="shopify", store_url="https://x")
