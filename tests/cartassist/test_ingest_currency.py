"""Currencies are never mixed: an amount applies to a cart only in the cart's currency
(services/ingest.py, ADR 0010). A `cart_updated` restating the cart in another currency
switches it and forgets the shipping quote; any other amount in another currency refuses
the batch with a field-level 400, and nothing of it is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from cartassist.models import Cart, CartEvent, CartStatus
from tests.fixtures.carts import iso, make_event

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen(time_machine: Any) -> Any:
    time_machine.move_to(NOW, tick=False)
    return time_machine


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def ev(kind: str, event_id: str, at: datetime, **data: Any) -> dict[str, Any]:
    base = make_event(kind, id=event_id, occurred_at=iso(at))
    if data:
        base["data"] = data
    return base


def cart_updated(event_id: str, at: datetime, currency: str, subtotal: str) -> dict[str, Any]:
    lines = [{"sku": "SKU-1", "name": "Thing", "quantity": 1, "unit_price": subtotal}]
    return ev("cart_updated", event_id, at, currency=currency, subtotal=subtotal, lines=lines)


def cart_state() -> tuple[Any, ...]:
    cart = Cart.objects.get()
    return (
        cart.currency,
        cart.subtotal,
        cart.shipping_fee,
        cart.signal,
        cart.status,
        cart.order_id,
        cart.order_total,
        cart.state_at,
    )


def currency_error(currency: str, other: str) -> list[str]:
    return [
        f"This cart is in {currency}: send amounts in {currency}. "
        f"To switch the cart to {other}, first send a cart_updated in {other}."
    ]


def test_a_shipping_quote_in_another_currency_is_refused(post_events, site):
    # given: a EUR cart
    assert post_events.server([cart_updated("e1", ago(5), "EUR", "60.00")]).status_code == 200
    before = cart_state()
    # when: the shop quotes 9.90 USD for it
    response = post_events.server(
        [ev("shipping_quoted", "e2", ago(1), currency="USD", fee="9.90", method="express")]
    )
    # then: a field-level 400, and the cart still has no fee (never "9.90 EUR")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "errors": {"events": {"0": {"data": {"currency": currency_error("EUR", "USD")}}}},
    }
    assert cart_state() == before
    assert before[2] is None
    assert list(CartEvent.objects.values_list("event_id", flat=True)) == ["e1"]


def test_an_order_in_another_currency_is_refused_with_the_whole_batch(post_events, site):
    # given: a EUR cart
    assert post_events.widget([cart_updated("e1", ago(5), "EUR", "60.00")]).status_code == 200
    before = cart_state()
    # when: a batch brings a checkout step and an order of 7400 JPY
    response = post_events.widget(
        [
            ev("checkout_step", "e2", ago(3), step="payment"),
            ev("order_completed", "e3", ago(1), order_id="ord-1", currency="JPY", total="7400"),
        ]
    )
    # then: the order (index 1) is refused; nothing of the batch is stored
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "events": {"1": {"data": {"currency": currency_error("EUR", "JPY")}}}
    }
    assert cart_state() == before
    assert before[4] == CartStatus.ACTIVE
    assert list(CartEvent.objects.values_list("event_id", flat=True)) == ["e1"]


def test_a_cart_update_in_another_currency_switches_the_cart_and_forgets_the_fee(post_events, site):
    # given: a USD cart with a USD delivery quote
    assert (
        post_events.widget(
            [
                cart_updated("e1", ago(10), "USD", "60.00"),
                ev("shipping_quoted", "e2", ago(9), currency="USD", fee="9.90"),
            ]
        ).status_code
        == 200
    )
    assert cart_state()[:4] == ("USD", Decimal("60.00"), Decimal("9.90"), "shipping_quoted")
    # when: the shopper switches the storefront to GBP
    response = post_events.widget([cart_updated("e3", ago(5), "GBP", "52.00")])
    # then: the cart is in GBP, with no fee in another currency and no shipping signal
    assert response.status_code == 200
    assert cart_state()[:4] == ("GBP", Decimal("52.00"), None, "")
    # and a new quote in GBP applies, while one in USD is refused
    usd = post_events.widget([ev("shipping_quoted", "e4", ago(4), currency="USD", fee="9.90")])
    assert usd.status_code == 400
    gbp = post_events.widget([ev("shipping_quoted", "e5", ago(3), currency="GBP", fee="7.50")])
    assert gbp.status_code == 200
    assert cart_state()[:4] == ("GBP", Decimal("52.00"), Decimal("7.50"), "shipping_quoted")


def test_a_switch_and_a_quote_in_one_batch_apply_in_time_order(post_events, site):
    # given: a EUR cart
    assert post_events.server([cart_updated("e1", ago(10), "EUR", "60.00")]).status_code == 200
    # when: one batch (sent newest first) switches to CHF and quotes in CHF
    response = post_events.server(
        [
            ev("shipping_quoted", "e3", ago(1), currency="CHF", fee="8.00"),
            cart_updated("e2", ago(2), "CHF", "58.00"),
        ]
    )
    # then
    assert response.status_code == 200
    assert cart_state()[:3] == ("CHF", Decimal("58.00"), Decimal("8.00"))


def test_widget_amounts_the_server_outranks_are_ignored_in_any_currency(post_events, site):
    # given: the shop backend sets the cart's totals in EUR
    assert post_events.server([cart_updated("e1", ago(5), "EUR", "60.00")]).status_code == 200
    before = cart_state()
    # when: the page reports the cart in GBP (the backend's own update is on its way)
    response = post_events.widget([cart_updated("e2", ago(1), "GBP", "52.00")])
    # then: stored, but the trusted totals and currency stand
    assert response.status_code == 200
    assert cart_state()[:3] == before[:3]


def test_an_order_event_that_does_not_apply_is_not_checked(post_events, site):
    # given: a EUR cart whose order the shop backend reported
    assert post_events.server([cart_updated("e1", ago(5), "EUR", "60.00")]).status_code == 200
    order = ev("order_completed", "e2", ago(2), order_id="ord-1", currency="EUR", total="60.00")
    assert post_events.server([order]).status_code == 200
    before = cart_state()
    # when: the thank-you page reports it again, in the currency the page showed
    late = ev("order_completed", "e3", ago(1), order_id="ord-1", currency="USD", total="65")
    response = post_events.widget([late])
    # then: logged and ignored, as any second report of an order
    assert response.status_code == 200
    assert cart_state() == before
    assert CartEvent.objects.get(event_id="e3").applied is False
