"""Each Oscar extension point → the signed server event CartAssist stores, end to end:
the sandbox Oscar shop (its own process) reports to CartAssist's live server (daphne).

Every request a test makes to the shop returns after the shop has posted its events
(they are sent synchronously, inside the request), so the test reads CartAssist's
database right after."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from tests.oscar.shop import OscarShop, cart_events


def basket_cart_id(shop: OscarShop) -> str:
    [(basket_id,)] = shop.rows("SELECT max(id) FROM basket_basket")
    return f"oscar-basket-{basket_id}"


LINE = {
    "sku": "MUG-ENAMEL",
    "name": "Enamel camp mug",
    "quantity": 1,
    "unit_price": "38.50",
    "category": "Kitchen",
}


def test_basket_changes_are_reported_with_oscars_totals_once_per_change(chat_server, oscar_shop):
    shopper = oscar_shop.shopper()
    shopper.add_to_basket(oscar_shop.product_id)
    cart_id = basket_cart_id(oscar_shop)
    [added] = cart_events(chat_server, cart_id, "cart_updated")
    assert added == {
        "type": "cart_updated",
        "source": "server",
        "data": {"currency": "EUR", "subtotal": "38.50", "lines": [LINE], "customer_segment": ""},
    }

    # when: the basket page is shown again without a change, nothing new is reported
    shopper.get("/basket/")
    assert len(cart_events(chat_server, cart_id, "cart_updated")) == 1

    # when: the quantity changes on Oscar's basket page (no Oscar signal for this)
    formset = shopper.basket_formset()
    formset["form-0-quantity"] = "3"
    status, _ = shopper.post("/basket/", formset)
    assert status == 200
    updated = cart_events(chat_server, cart_id, "cart_updated")[-1]["data"]
    assert (updated["subtotal"], updated["lines"][0]["quantity"]) == ("115.50", 3)

    # when: the line is removed ("Remove" on Oscar's basket page), the empty basket
    formset = shopper.basket_formset()
    formset["form-0-DELETE"] = "on"
    shopper.post("/basket/", formset)
    emptied = cart_events(chat_server, cart_id, "cart_updated")[-1]["data"]
    assert (emptied["subtotal"], emptied["lines"]) == ("0.00", [])
    assert len(cart_events(chat_server, cart_id, "cart_updated")) == 3


def test_checkout_steps_and_the_delivery_charge_of_the_chosen_method(chat_server, oscar_shop):
    shopper = oscar_shop.shopper()
    shopper.add_to_basket(oscar_shop.product_id)
    cart_id = basket_cart_id(oscar_shop)

    shopper.guest_checkout("grace@example.com")
    shopper.shipping_address()
    # the shipping method page shows both methods: the cheapest charge is the one quoted
    steps = [e["data"]["step"] for e in cart_events(chat_server, cart_id, "checkout_step")]
    assert steps == ["contact", "shipping"]
    quotes = [e["data"] for e in cart_events(chat_server, cart_id, "shipping_quoted")]
    assert quotes == [{"currency": "EUR", "fee": "9.90", "method": "standard", "country": "DE"}]

    # when: the shopper picks express delivery, the preview (payment step) quotes it
    shopper.choose_method("express")
    steps = [e["data"]["step"] for e in cart_events(chat_server, cart_id, "checkout_step")]
    assert steps == ["contact", "shipping", "payment"]
    quotes = [e["data"] for e in cart_events(chat_server, cart_id, "shipping_quoted")]
    assert quotes[-1] == {"currency": "EUR", "fee": "14.90", "method": "express", "country": "DE"}
    assert len(quotes) == 2
    assert {e["source"] for e in cart_events(chat_server, cart_id)} == {"server"}


def test_a_declined_payment_is_reported_and_no_order_is_placed(chat_server, oscar_shop):
    shopper = oscar_shop.shopper()
    shopper.add_to_basket(oscar_shop.product_id)
    cart_id = basket_cart_id(oscar_shop)
    shopper.guest_checkout("ada+decline@example.com")
    shopper.shipping_address()
    shopper.choose_method("standard")

    status, html = shopper.place_order()

    assert status == 200
    assert "declined" in html
    failures = [e["data"] for e in cart_events(chat_server, cart_id, "payment_failed")]
    assert failures == [{"reason": "card_declined: your card was declined"}]
    assert oscar_shop.rows(
        "SELECT count(*) FROM order_order WHERE basket_id = ?", int(cart_id.rsplit("-", 1)[1])
    ) == [(0,)]
    assert cart_events(chat_server, cart_id, "order_completed") == []


def test_a_voucher_code_oscar_refuses_is_reported(chat_server, oscar_shop):
    shopper = oscar_shop.shopper()
    shopper.add_to_basket(oscar_shop.product_id)
    cart_id = basket_cart_id(oscar_shop)

    status, html = shopper.post("/basket/vouchers/add/", {"code": "welcome10"})

    assert status == 200
    assert "WELCOME10" in html
    rejected = [e["data"] for e in cart_events(chat_server, cart_id, "coupon_rejected")]
    assert rejected == [{"code": "WELCOME10"}]


def test_a_placed_order_is_reported_with_oscars_number_and_total(chat_server, oscar_shop):
    shopper = oscar_shop.shopper()
    shopper.add_to_basket(oscar_shop.product_id)
    cart_id = basket_cart_id(oscar_shop)
    shopper.guest_checkout("lin@example.com")
    shopper.shipping_address()
    shopper.choose_method("standard")

    status, html = shopper.place_order()

    assert status == 200
    basket_id = int(cart_id.rsplit("-", 1)[1])
    [(number, total)] = oscar_shop.rows(
        "SELECT number, total_incl_tax FROM order_order WHERE basket_id = ?", basket_id
    )
    assert Decimal(str(total)) == Decimal("48.40")
    assert number in html
    completed = [e["data"] for e in cart_events(chat_server, cart_id, "order_completed")]
    assert completed == [{"order_id": str(number), "currency": "EUR", "total": "48.40"}]


def test_the_grant_endpoint_refuses_what_cartassist_does_not_vouch_for(chat_server, oscar_shop):
    shopper = oscar_shop.shopper()
    shopper.add_to_basket(oscar_shop.product_id)

    status, body = shopper.post_json("/cartassist/grants/apply", b"{}")
    assert (status, json.loads(body)) == (400, {"errors": {"token": ["This field is required."]}})

    status, body = shopper.post_json("/cartassist/grants/apply", b'{"token": "forged.token"}')
    assert status == 400
    assert list(json.loads(body)["errors"]) == ["token"]
    assert oscar_shop.rows("SELECT count(*) FROM voucher_voucher") == [(0,)]


def test_a_logged_in_customers_basket_carries_their_customer_id(chat_server, oscar_shop):
    shopper = oscar_shop.shopper()
    status, _ = shopper.post(
        "/accounts/login/",
        {
            "registration-email": "grace@example.com",
            "registration-password1": "a-long-sandbox-password-1",
            "registration-password2": "a-long-sandbox-password-1",
            "registration-redirect_url": "",
            "registration_submit": "Register",
        },
    )
    assert status == 200
    [(user_id,)] = oscar_shop.rows("SELECT id FROM auth_user WHERE email = ?", "grace@example.com")

    shopper.add_to_basket(oscar_shop.product_id)

    cart_id = basket_cart_id(oscar_shop)
    [(customer,)] = chat_server.rows(
        "SELECT e.customer_id FROM cartassist_cartevent e JOIN cartassist_cart c "
        "ON c.id = e.cart_id WHERE c.external_id = ? AND e.type = 'cart_updated'",
        cart_id,
    )
    assert customer == f"oscar-user-{user_id}"
    # and the widget in the page gets the same id with the server-made identity HMAC
    _, html = shopper.get("/basket/")
    assert f'data-customer-id="oscar-user-{user_id}"' in html
    assert re.search(r'data-customer-hmac="[0-9a-f]{64}"', html)
