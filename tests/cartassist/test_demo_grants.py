"""The demo shop applies a CartAssist grant as a real shop would: it verifies the token,
keeps it with the cart, shows the reduced total, and redeems it when the order is paid."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from cartassist.demo.basket import CART_KEY, ORDERS_KEY
from cartassist.demo.seed import DEMO_SITE_KEY
from cartassist.models import Site
from policies.models import Grant, Policy
from policies.services.grants import grant_token
from policies.services.offers import offer_accept, offer_authorize
from policies.services.versions import policy_version_create
from tests.e2e.conftest import E2E_SETTINGS
from tests.fixtures.agents import make_agent, make_conversation, make_stalled_cart
from tests.fixtures.sites import make_site

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.e2e.urls")]

JSON = {"HTTP_ACCEPT": "application/json"}
SHIPPING = {
    "address": "Hauptstr. 1",
    "postcode": "10115",
    "city": "Berlin",
    "country": "DE",
    "method": "standard",
}


@pytest.fixture(autouse=True)
def _demo_settings(settings: Any) -> None:
    for name, value in E2E_SETTINGS.items():
        setattr(settings, name, value)


@pytest.fixture
def demo_site(db: Any) -> Site:
    return make_site(public_key=DEMO_SITE_KEY, currency="EUR", timezone="Europe/Berlin")


def shop_to_payment(client: Client) -> str:
    """38.50 EUR of goods, standard delivery 9.90 EUR; returns the shop's cart id."""
    client.post("/demo/cart/add/", {"sku": "MUG-ENAMEL", "quantity": 1}, **JSON)
    client.post("/demo/cart/add/", {"sku": "CANDLE-FIG", "quantity": 1}, **JSON)
    client.post("/demo/checkout/contact/", {"email": "ada@example.com", "name": "Ada"})
    client.post("/demo/checkout/shipping/", SHIPPING)
    return client.session[CART_KEY]["id"]


def granted(site: Site, cart_external_id: str, *, amount: str = "9.90") -> tuple[Grant, str]:
    """A grant through the real flow: policy → offer in a chat → shopper accepts."""
    now = timezone.now()
    policy = Policy.objects.create(
        site=site,
        name="Free delivery rescue",
        waive_delivery=True,
        waive_delivery_cap=Decimal("10.00"),
        max_per_offer=Decimal("10.00"),
    )
    policy_version_create(policy=policy, user=None, now=now)
    cart = make_stalled_cart(
        site, external_id=cart_external_id, subtotal="38.50", shipping_fee="9.90", now=now
    )
    agent = make_agent(site, now=now)
    conversation = make_conversation(site, agent=agent, cart=cart, now=now)
    offer = offer_authorize(
        agent=agent, conversation_id=conversation.pk, kind="waive_delivery", amount=amount, now=now
    )
    offer = offer_accept(site_id=site.pk, visitor_id=cart.visitor_id, offer_id=offer.pk, now=now)
    grant = Grant.objects.select_related("cart").get(offer=offer)
    return grant, grant_token(grant)


def apply(client: Client, token: str) -> Any:
    return client.post("/demo/checkout/grant/", {"token": token}, **JSON)


def test_a_verified_grant_is_kept_with_the_cart_and_lowers_the_total(client, demo_site):
    # given: a shopper at payment with 38.50 + 9.90 delivery, and a grant for their cart
    cart_id = shop_to_payment(client)
    _, token = granted(demo_site, cart_id)
    # when: the page hands the token to the shop's backend
    response = apply(client, token)
    # then: verified and kept; the payment page shows the waiver and the new total
    assert response.status_code == 200
    assert response.json() == {
        "applied": True,
        "kind": "waive_delivery",
        "amount": "9.90",
        "currency": "EUR",
        "label": "Delivery charge waived by our agent",
    }
    assert client.session[CART_KEY]["grant"]["token"] == token
    page = client.get("/demo/checkout/payment/").content.decode()
    assert "Delivery charge waived by our agent" in page
    assert '<dd data-grant-reduction data-testid="grant-reduction">−€9.90</dd>' in page
    assert '<dd data-total data-testid="total">€38.50</dd>' in page
    assert "data-pay-total>Pay €38.50</button>" in page


def test_the_delivery_page_shows_the_waiver_for_the_chosen_method(client, demo_site):
    # given: a kept grant for 9.90
    cart_id = shop_to_payment(client)
    _, token = granted(demo_site, cart_id)
    apply(client, token)
    # when: the shopper goes back to the delivery step
    page = client.get("/demo/checkout/shipping/").content.decode()
    # then: 9.90 off the standard charge
    assert '<dd data-total data-testid="total">€38.50</dd>' in page


def test_paying_redeems_the_grant_for_the_order_and_completes_with_the_reduced_total(
    client, demo_site
):
    # given: a kept grant
    cart_id = shop_to_payment(client)
    grant, token = granted(demo_site, cart_id)
    apply(client, token)
    # when: the shopper pays
    response = client.post("/demo/checkout/pay/", {"card_number": "4242424242424242"}, **JSON)
    # then: the grant is redeemed for this order (idempotency key: the order id) and the
    # order completes with 38.50
    answer = response.json()
    (order_id,) = client.session[ORDERS_KEY]
    grant.refresh_from_db()
    assert (grant.order_id, grant.idempotency_key) == (order_id, order_id)
    assert grant.redeemed_at is not None
    assert answer == {
        "redirect": f"/demo/orders/{order_id}/",
        "track": [
            {
                "type": "order_completed",
                "cart_id": cart_id,
                "data": {"order_id": order_id, "currency": "EUR", "total": "38.50"},
            }
        ],
    }
    order = client.session[ORDERS_KEY][order_id]
    assert (order["delivery_fee"], order["grant_reduction"], order["total"]) == (
        "9.90",
        "9.90",
        "38.50",
    )
    page = client.get(answer["redirect"]).content.decode()
    assert "Delivery charge waived by our agent" in page
    assert '<dd data-testid="order-total">€38.50</dd>' in page


def test_an_order_without_a_grant_pays_the_full_total(client, demo_site):
    # given: no grant
    shop_to_payment(client)
    # when
    answer = client.post("/demo/checkout/pay/", {"card_number": "4242424242424242"}, **JSON)
    # then
    assert answer.json()["track"][0]["data"]["total"] == "48.40"
    assert Grant.objects.count() == 0


def test_a_grant_that_cannot_be_redeemed_at_payment_is_dropped_and_no_order_is_placed(
    client, demo_site
):
    # given: a kept grant that has expired by the time the shopper pays
    cart_id = shop_to_payment(client)
    grant, token = granted(demo_site, cart_id)
    apply(client, token)
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    # when
    response = client.post("/demo/checkout/pay/", {"card_number": "4242424242424242"}, **JSON)
    # then: back to payment, full total again, nothing redeemed, no order
    assert response.json() == {"redirect": "/demo/checkout/payment/", "track": []}
    assert client.session[CART_KEY]["grant"] is None
    assert ORDERS_KEY not in client.session
    grant.refresh_from_db()
    assert (grant.redeemed_at, grant.order_id) == (None, "")
    page = client.get("/demo/checkout/payment/").content.decode()
    assert "Our agent&#x27;s offer could not be applied: This grant has expired." in page
    assert '<dd data-total data-testid="total">€48.40</dd>' in page


def test_a_tampered_token_is_refused_and_nothing_is_kept(client, demo_site):
    # given
    cart_id = shop_to_payment(client)
    _, token = granted(demo_site, cart_id)
    # when: one character changed
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    response = apply(client, tampered)
    # then
    assert response.status_code == 403
    assert response.json()["applied"] is False
    assert client.session[CART_KEY].get("grant") is None


def test_a_grant_for_another_cart_is_refused(client, demo_site):
    # given: a grant made for someone else's cart
    shop_to_payment(client)
    _, token = granted(demo_site, "demo-someone-else")
    # when
    response = apply(client, token)
    # then
    assert (response.status_code, response.json()) == (
        409,
        {"applied": False, "detail": "This offer was made for another cart."},
    )
    assert client.session[CART_KEY].get("grant") is None


def test_a_redeemed_grant_is_refused(client, demo_site):
    # given: the grant was already used for an order
    cart_id = shop_to_payment(client)
    grant, token = granted(demo_site, cart_id)
    Grant.objects.filter(pk=grant.pk).update(redeemed_at=timezone.now(), order_id="DEMO-OTHER")
    # when
    response = apply(client, token)
    # then
    assert (response.status_code, response.json()) == (
        410,
        {"applied": False, "detail": "This offer has expired or was already used."},
    )
    assert client.session[CART_KEY].get("grant") is None


def test_a_grant_needs_a_cart(client, demo_site):
    # given: nothing in the cart
    # when
    response = apply(client, "anything")
    # then
    assert (response.status_code, response.json()) == (
        409,
        {"applied": False, "detail": "Your cart is empty."},
    )


def test_applying_a_grant_needs_the_csrf_token(demo_site):
    # given: the shopper's session, posted from somewhere without the page's CSRF token
    client = Client()
    cart_id = shop_to_payment(client)
    _, token = granted(demo_site, cart_id)
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies
    # when
    response = apply(strict, token)
    # then
    assert response.status_code == 403
    assert client.session[CART_KEY].get("grant") is None


def test_the_pages_carry_the_csrf_token_and_the_grant_endpoint_for_demo_js(client, demo_site):
    # when
    page = client.get("/demo/").content.decode()
    # then
    assert '<meta name="csrf-token" content="' in page
    assert 'data-grant-url="/demo/checkout/grant/"' in page
