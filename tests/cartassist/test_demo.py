"""The demo storefront's pages and POST answers (Django test client, no browser)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings as settings_module
from django.test import Client

from cartassist.demo import catalogue
from cartassist.demo.basket import CART_KEY
from cartassist.demo.seed import DEMO_SITE_KEY
from tests.e2e.conftest import E2E_SETTINGS

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.e2e.urls")]

JSON = {"HTTP_ACCEPT": "application/json"}
MUG_LINE = {
    "sku": "MUG-ENAMEL",
    "name": "Enamel camp mug",
    "quantity": 1,
    "unit_price": "14.50",
    "category": "kitchen",
}


@pytest.fixture(autouse=True)
def _demo_settings(settings: Any) -> None:
    """The demo as it runs embedded, also when the suite runs in production mode."""
    for name, value in E2E_SETTINGS.items():
        setattr(settings, name, value)


def cart_id(client: Client) -> str:
    return client.session[CART_KEY]["id"]


def add(client: Client, sku: str, quantity: int = 1) -> Any:
    return client.post("/demo/cart/add/", {"sku": sku, "quantity": quantity}, **JSON)


def checkout_to_payment(
    client: Client, *, sku: str = "MUG-ENAMEL", method: str = "standard"
) -> None:
    add(client, sku)
    client.post("/demo/checkout/contact/", {"email": "ada@example.com", "name": "Ada"})
    client.post(
        "/demo/checkout/shipping/",
        {"address": "Hauptstr. 1", "postcode": "10115", "city": "Berlin", "country": "DE",
         "method": method},
    )  # fmt: skip


@pytest.mark.parametrize(
    "path", ["/demo/", "/demo/?category=pantry", "/demo/products/PEN-BRASS/", "/demo/cart/"]
)
def test_pages_embed_the_widget_with_one_script_tag(client, path):
    # when
    response = client.get(path)
    # then
    assert response.status_code == 200
    html = response.content.decode()
    tags = re.findall(r"<script src=\"([^\"]+)\"([^>]*)>", html)
    assert tags == [
        (
            "http://testserver/static/widget/cartassist.js",
            f' data-site-key="{DEMO_SITE_KEY}" data-launcher="true" async',
        ),
        ("/static/demo/demo.js", " defer"),
    ]
    assert "window.CartAssist = window.CartAssist || { q: [] };" in html
    assert "Don't invite me to chat" in html


def test_category_filter_lists_only_that_category(client):
    # when
    response = client.get("/demo/?category=stationery")
    # then
    assert [p.sku for p in response.context["products"]] == ["NOTEBOOK-A5", "PEN-BRASS"]
    assert client.get("/demo/?category=nope").status_code == 404


def test_viewing_pages_changes_nothing(client):
    # when
    for path in ["/demo/", "/demo/products/MUG-ENAMEL/", "/demo/cart/", "/demo/checkout/contact/"]:
        client.get(path)
    # then
    assert CART_KEY not in client.session


@pytest.mark.parametrize(
    "path", ["/demo/cart/add/", "/demo/cart/update/", "/demo/cart/coupon/", "/demo/checkout/pay/"]
)
def test_changes_refuse_get(client, path):
    assert client.get(path).status_code == 405


def test_add_to_cart_answers_with_the_cart_updated_event(client):
    # when
    response = client.post(
        "/demo/cart/add/",
        {"sku": "MUG-ENAMEL", "quantity": "2", "next": "/demo/?category=kitchen"},
        **JSON,
    )
    # then
    assert response.status_code == 200
    assert response.json() == {
        "redirect": "/demo/?category=kitchen",
        "track": [
            {
                "type": "cart_updated",
                "cart_id": cart_id(client),
                "data": {
                    "currency": "EUR",
                    "subtotal": "29.00",
                    "lines": [{**MUG_LINE, "quantity": 2}],
                },
            }
        ],
    }
    assert cart_id(client).startswith("demo-")


def test_add_to_cart_without_javascript_redirects(client):
    # when
    response = client.post(
        "/demo/cart/add/", {"sku": "TEA-SENCHA", "next": "https://evil.example/"}
    )
    # then: to the shop, not to another host
    assert (response.status_code, response["Location"]) == (302, "/demo/")
    assert client.session[CART_KEY]["quantities"] == {"TEA-SENCHA": 1}


def test_add_unknown_product_changes_nothing(client):
    # when
    response = client.post("/demo/cart/add/", {"sku": "NOPE"}, **JSON)
    # then
    assert response.json() == {"redirect": "/demo/", "track": []}
    assert CART_KEY not in client.session


def test_cart_update_to_zero_removes_the_line(client):
    # given
    add(client, "MUG-ENAMEL")
    add(client, "TEA-SENCHA")
    # when
    response = client.post("/demo/cart/update/", {"sku": "TEA-SENCHA", "quantity": "0"}, **JSON)
    # then
    assert response.json()["track"] == [
        {
            "type": "cart_updated",
            "cart_id": cart_id(client),
            "data": {"currency": "EUR", "subtotal": "14.50", "lines": [MUG_LINE]},
        }
    ]


def test_every_coupon_is_rejected_with_an_event(client):
    # given
    add(client, "MUG-ENAMEL")
    # when
    response = client.post("/demo/cart/coupon/", {"code": " welcome10 "}, **JSON)
    # then
    assert response.json() == {
        "redirect": "/demo/cart/",
        "track": [
            {"type": "coupon_rejected", "cart_id": cart_id(client), "data": {"code": "WELCOME10"}}
        ],
    }
    page = client.get("/demo/cart/").content.decode()
    assert "The code WELCOME10 is not valid or has expired." in page


def test_contact_step_tracks_the_step(client):
    # given
    add(client, "MUG-ENAMEL")
    # when
    response = client.get("/demo/checkout/contact/")
    # then
    assert response.context["page_events"] == [
        {"type": "checkout_step", "cart_id": cart_id(client), "data": {"step": "contact"}}
    ]


def test_contact_step_refuses_a_bad_email_and_stores_nothing(client):
    # given
    add(client, "MUG-ENAMEL")
    # when
    response = client.post("/demo/checkout/contact/", {"email": "not-an-email", "name": "Ada"})
    # then
    assert response.status_code == 200
    assert response.context["form"].errors == {"email": ["Enter a valid email address."]}
    assert client.session[CART_KEY]["contact"] is None


def test_contact_step_stores_the_contact_and_moves_on(client):
    # given
    add(client, "MUG-ENAMEL")
    # when
    response = client.post("/demo/checkout/contact/", {"email": "ada@example.com", "name": "Ada"})
    # then
    assert (response.status_code, response["Location"]) == (302, "/demo/checkout/shipping/")
    assert client.session[CART_KEY]["contact"] == {"email": "ada@example.com", "name": "Ada"}


def test_shipping_step_quotes_a_high_standard_charge_on_a_small_cart(client):
    # given
    add(client, "MUG-ENAMEL")
    client.post("/demo/checkout/contact/", {"email": "ada@example.com", "name": "Ada"})
    # when
    response = client.get("/demo/checkout/shipping/")
    # then
    cart = cart_id(client)
    assert response.context["page_events"] == [
        {"type": "checkout_step", "cart_id": cart, "data": {"step": "shipping"}},
        {
            "type": "shipping_quoted",
            "cart_id": cart,
            "data": {"currency": "EUR", "fee": "9.90", "method": "standard", "country": "DE"},
        },
    ]
    assert response.context["total"] == Decimal("24.40")


def test_standard_delivery_is_free_from_150_eur():
    # when
    below = catalogue.delivery_options(Decimal("149.99"))
    at = catalogue.delivery_options(Decimal("150.00"))
    # then
    assert [(o.method, o.fee) for o in below] == [
        ("standard", Decimal("9.90")),
        ("express", Decimal("19.90")),
    ]
    assert [(o.method, o.fee) for o in at] == [
        ("standard", Decimal("0.00")),
        ("express", Decimal("19.90")),
    ]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/demo/checkout/contact/", "/demo/cart/"),
        ("/demo/checkout/shipping/", "/demo/cart/"),
        ("/demo/checkout/payment/", "/demo/cart/"),
    ],
)
def test_checkout_with_an_empty_cart_goes_back_to_the_cart(client, path, expected):
    response = client.get(path)
    assert (response.status_code, response["Location"]) == (302, expected)


def test_payment_needs_the_delivery_step_first(client):
    # given
    add(client, "MUG-ENAMEL")
    client.post("/demo/checkout/contact/", {"email": "ada@example.com", "name": "Ada"})
    # when
    response = client.get("/demo/checkout/payment/")
    # then
    assert (response.status_code, response["Location"]) == (302, "/demo/checkout/shipping/")


def test_payment_step_tracks_the_step(client):
    # given
    checkout_to_payment(client, method="express")
    # when
    response = client.get("/demo/checkout/payment/")
    # then
    assert response.context["page_events"] == [
        {"type": "checkout_step", "cart_id": cart_id(client), "data": {"step": "payment"}}
    ]
    assert "Pay €34.40" in response.content.decode()


def test_declined_test_card_tracks_payment_failed_and_keeps_the_cart(client):
    # given
    checkout_to_payment(client)
    cart = cart_id(client)
    # when
    response = client.post("/demo/checkout/pay/", {"card_number": "4000 0000 0000 0002"}, **JSON)
    # then
    assert response.json() == {
        "redirect": "/demo/checkout/payment/",
        "track": [{"type": "payment_failed", "cart_id": cart, "data": {"reason": "card_declined"}}],
    }
    assert cart_id(client) == cart
    assert "Your card was declined." in client.get("/demo/checkout/payment/").content.decode()


def test_malformed_card_number_is_not_a_payment_failure(client):
    # given
    checkout_to_payment(client)
    # when
    response = client.post("/demo/checkout/pay/", {"card_number": "1234"}, **JSON)
    # then
    assert response.json() == {"redirect": "/demo/checkout/payment/", "track": []}


def test_paying_completes_the_order_and_empties_the_cart(client):
    # given
    checkout_to_payment(client)
    cart = cart_id(client)
    # when
    response = client.post("/demo/checkout/pay/", {"card_number": "4242 4242 4242 4242"}, **JSON)
    # then
    answer = response.json()
    (event,) = answer["track"]
    order_id = event["data"]["order_id"]
    assert event == {
        "type": "order_completed",
        "cart_id": cart,
        "data": {"order_id": order_id, "currency": "EUR", "total": "24.40"},
    }
    assert answer["redirect"] == f"/demo/orders/{order_id}/"
    assert CART_KEY not in client.session
    confirmation = client.get(answer["redirect"])
    assert confirmation.status_code == 200
    assert order_id in confirmation.content.decode()
    assert client.get("/demo/orders/DEMO-OTHER/").status_code == 404


def test_the_demo_uses_the_stub_snippet_the_guide_documents(client):
    # given: the snippet in docs/WIDGET.md, section 3
    guide = (settings_module.BASE_DIR / "docs" / "WIDGET.md").read_text()
    snippet = re.search(r"```html\n(<script>\n.*?</script>)\n<script src=", guide, re.S)
    assert snippet is not None
    # when
    page = client.get("/demo/").content.decode()
    # then
    stub_lines = [line.strip() for line in snippet.group(1).splitlines()]
    page_lines = [line.strip() for line in page.splitlines()]
    start = page_lines.index(stub_lines[0])
    assert page_lines[start : start + len(stub_lines)] == stub_lines
