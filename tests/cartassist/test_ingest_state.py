"""Cart state folded from events: out-of-order events, trusted totals, identity, deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from cartassist.api.serializers import customer_identity_hmac
from cartassist.carts.services.sites import site_secret_rotate
from cartassist.domain import cart_state
from cartassist.domain.stalls import STAGE_ORDER
from cartassist.models import (
    Cart,
    CartEvent,
    CartStatus,
    EventType,
    Stage,
    StallRule,
    StallSignal,
    Visitor,
)
from tests.fixtures.carts import iso, make_event

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen(time_machine: Any) -> Any:
    time_machine.move_to(NOW, tick=False)
    return time_machine


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def ev(kind: str, event_id: str, at: datetime, **data: Any) -> dict[str, Any]:
    """An event of ``kind`` at ``at``; ``data`` replaces the default data when given."""
    base = make_event(kind, id=event_id, occurred_at=iso(at))
    if data:
        base["data"] = data
    return base


def cart_updated(event_id: str, at: datetime, subtotal: str, **extra: Any) -> dict[str, Any]:
    lines = [{"sku": "SKU-1", "name": "Thing", "quantity": 1, "unit_price": subtotal}]
    return ev("cart_updated", event_id, at, currency="EUR", subtotal=subtotal, lines=lines, **extra)


def applied() -> dict[str, bool]:
    return dict(CartEvent.objects.values_list("event_id", "applied"))


def ok(response: Any) -> None:
    assert response.status_code == 200, response.json()


# --- out of order ----------------------------------------------------------------------


def test_an_older_cart_update_does_not_roll_the_state_back(post_events, site):
    # given
    ok(post_events.widget([cart_updated("evt-new", ago(1), "80.00")]))
    # when: an older update arrives late (a retried request from another tab)
    response = post_events.widget([cart_updated("evt-old", ago(5), "60.00")])
    # then: it is logged, not applied
    assert response.json() == {"stored": ["evt-old"], "duplicates": []}
    cart = Cart.objects.get()
    assert (cart.subtotal, cart.state_at, cart.last_activity_at) == (
        Decimal("80.00"),
        ago(1),
        ago(1),
    )
    assert cart.lines[0]["unit_price"] == "80.00"
    assert applied() == {"evt-new": True, "evt-old": False}


def test_an_out_of_order_batch_is_applied_oldest_first(post_events, site):
    # when
    ok(
        post_events.widget(
            [cart_updated("evt-new", ago(1), "80.00"), cart_updated("evt-old", ago(5), "60.00")]
        )
    )
    # then
    assert Cart.objects.get().subtotal == Decimal("80.00")
    assert applied() == {"evt-new": True, "evt-old": True}


def test_an_older_checkout_step_does_not_move_the_shopper_back(post_events, site):
    # given
    ok(post_events.widget([ev("checkout_step", "evt-pay", ago(1), step="payment")]))
    # when
    ok(post_events.widget([ev("checkout_step", "evt-contact", ago(3), step="contact")]))
    # then
    assert Cart.objects.get().stage == Stage.PAYMENT
    assert applied() == {"evt-pay": True, "evt-contact": False}


def test_a_newer_checkout_step_may_go_back(post_events, site):
    # given
    ok(post_events.widget([ev("checkout_step", "evt-pay", ago(3), step="payment")]))
    # when: the shopper went back to change the address
    ok(post_events.widget([ev("checkout_step", "evt-contact", ago(1), step="contact")]))
    # then
    assert Cart.objects.get().stage == Stage.CONTACT


def test_an_order_completion_applies_even_when_older_than_the_state(post_events, site):
    # given
    ok(post_events.widget([cart_updated("evt-cart", ago(1), "80.00")]))
    # when: the order was completed before the last (delayed) cart event was recorded
    completed = ev(
        "order_completed", "evt-order", ago(2), order_id="ord-9", currency="EUR", total="80.00"
    )
    ok(post_events.widget([completed]))
    # then
    cart = Cart.objects.get()
    assert (cart.status, cart.order_id, cart.order_total) == (
        CartStatus.CONVERTED,
        "ord-9",
        Decimal("80.00"),
    )
    assert cart.stall_deadline is None
    assert applied() == {"evt-cart": True, "evt-order": True}


def test_events_after_the_order_are_logged_but_change_nothing(post_events, site):
    # given
    order = ev("order_completed", "evt-order", ago(5), order_id="ord-1", currency="EUR", total="1")
    ok(post_events.widget([order]))
    before = Cart.objects.values().get()
    # when
    ok(
        post_events.widget(
            [
                cart_updated("evt-cart", ago(1), "80.00"),
                ev("checkout_step", "evt-step", ago(1), step="payment"),
            ]
        )
    )
    # then
    assert Cart.objects.values().get() == before
    assert applied() == {"evt-order": True, "evt-cart": False, "evt-step": False}


def test_the_first_order_completion_stands(post_events, site):
    # given
    ok(
        post_events.widget(
            [ev("order_completed", "evt-1", ago(5), order_id="ord-1", currency="EUR", total="10")]
        )
    )
    # when
    ok(
        post_events.widget(
            [ev("order_completed", "evt-2", ago(1), order_id="ord-2", currency="EUR", total="20")]
        )
    )
    # then
    cart = Cart.objects.get()
    assert (cart.order_id, cart.order_total) == ("ord-1", Decimal("10.00"))
    assert applied() == {"evt-1": True, "evt-2": False}


def test_an_opt_out_applies_whatever_its_age(post_events, site):
    # given
    ok(post_events.widget([cart_updated("evt-cart", ago(1), "80.00")]))
    # when
    ok(post_events.widget([ev("opted_out", "evt-opt", ago(10))]))
    # then
    visitor = Visitor.objects.get()
    assert (visitor.external_id, visitor.opted_out_at) == ("visitor-1", ago(10))
    assert applied() == {"evt-cart": True, "evt-opt": True}


def test_the_first_opt_out_time_is_kept(post_events, site):
    # given
    ok(post_events.widget([ev("opted_out", "evt-1", ago(10))]))
    # when
    ok(post_events.widget([ev("opted_out", "evt-2", ago(1), **{})]))
    # then
    assert Visitor.objects.get().opted_out_at == ago(10)


# --- server totals outrank widget totals -------------------------------------------------


def test_widget_totals_do_not_override_server_totals(post_events, site):
    # given
    ok(post_events.server([cart_updated("evt-server", ago(5), "100.00")]))
    # when: a newer widget update reports other totals (a tampered or stale page)
    ok(post_events.widget([cart_updated("evt-widget", ago(1), "50.00")]))
    # then: the totals stay; the widget's activity still counts
    cart = Cart.objects.get()
    assert (cart.subtotal, cart.totals_trusted) == (Decimal("100.00"), True)
    assert cart.lines[0]["unit_price"] == "100.00"
    assert cart.last_activity_at == ago(1)
    assert applied() == {"evt-server": True, "evt-widget": True}


def test_server_totals_override_widget_totals(post_events, site):
    # given
    ok(post_events.widget([cart_updated("evt-widget", ago(5), "50.00")]))
    # when
    ok(post_events.server([cart_updated("evt-server", ago(1), "100.00")]))
    # then
    cart = Cart.objects.get()
    assert (cart.subtotal, cart.totals_trusted) == (Decimal("100.00"), True)


def test_a_widget_shipping_quote_moves_the_stage_but_keeps_the_server_fee(post_events, site):
    # given
    ok(post_events.server([cart_updated("evt-1", ago(5), "100.00")]))
    ok(post_events.server([ev("shipping_quoted", "evt-2", ago(4), currency="EUR", fee="4.90")]))
    # when
    ok(post_events.widget([ev("shipping_quoted", "evt-3", ago(1), currency="EUR", fee="0.00")]))
    # then
    cart = Cart.objects.get()
    assert (cart.shipping_fee, cart.stage, cart.signal) == (
        Decimal("4.90"),
        Stage.SHIPPING,
        "shipping_quoted",
    )


def test_the_server_order_total_outranks_the_widget_one(post_events, site):
    # given: the thank-you page reported the order before the shop backend did
    ok(
        post_events.widget(
            [ev("order_completed", "evt-w", ago(2), order_id="ord-1", currency="EUR", total="1.00")]
        )
    )
    # when
    ok(
        post_events.server(
            [
                ev(
                    "order_completed",
                    "evt-s",
                    ago(1),
                    order_id="ord-1",
                    currency="EUR",
                    total="99.00",
                )
            ]
        )
    )
    # then
    cart = Cart.objects.get()
    assert (cart.status, cart.order_id, cart.order_total, cart.totals_trusted) == (
        CartStatus.CONVERTED,
        "ord-1",
        Decimal("99.00"),
        True,
    )
    assert applied() == {"evt-w": True, "evt-s": True}


def test_the_server_order_total_is_kept_on_a_trusted_cart_the_widget_completed(post_events, site):
    # given: trusted totals, then the widget reports the order (its total cannot apply)
    ok(post_events.server([cart_updated("evt-1", ago(5), "99.00")]))
    ok(
        post_events.widget(
            [ev("order_completed", "evt-w", ago(2), order_id="ord-1", currency="EUR", total="1.00")]
        )
    )
    assert Cart.objects.get().order_total is None
    # when
    ok(
        post_events.server(
            [
                ev(
                    "order_completed",
                    "evt-s",
                    ago(1),
                    order_id="ord-1",
                    currency="EUR",
                    total="99.00",
                )
            ]
        )
    )
    # then
    assert Cart.objects.get().order_total == Decimal("99.00")


def test_a_widget_order_total_never_replaces_the_server_one(post_events, site):
    # given
    ok(
        post_events.server(
            [
                ev(
                    "order_completed",
                    "evt-s",
                    ago(2),
                    order_id="ord-1",
                    currency="EUR",
                    total="99.00",
                )
            ]
        )
    )
    # when
    ok(
        post_events.widget(
            [ev("order_completed", "evt-w", ago(1), order_id="ord-2", currency="EUR", total="1.00")]
        )
    )
    # then
    cart = Cart.objects.get()
    assert (cart.order_id, cart.order_total) == ("ord-1", Decimal("99.00"))
    assert applied() == {"evt-s": True, "evt-w": False}


# --- shopper identity --------------------------------------------------------------------


def test_a_signed_customer_id_from_the_widget_is_verified(post_events, site):
    # given
    signature = customer_identity_hmac(site.secret, "cust-7")
    event = cart_updated("evt-1", ago(1), "60.00", **{})
    event.update(customer_id="cust-7", customer_hmac=signature)
    # when
    ok(post_events.widget([event]))
    # then
    cart = Cart.objects.get()
    assert (cart.customer_id, cart.customer_verified) == ("cust-7", True)
    assert CartEvent.objects.get().customer_id == "cust-7"
    assert "customer_hmac" not in CartEvent.objects.get().data


def test_a_customer_id_from_the_server_needs_no_hmac(post_events, site):
    # given
    event = cart_updated("evt-1", ago(1), "60.00")
    event["customer_id"] = "cust-7"
    # when
    ok(post_events.server([event]))
    # then
    cart = Cart.objects.get()
    assert (cart.customer_id, cart.customer_verified) == ("cust-7", True)


def test_a_later_event_without_customer_id_keeps_the_identity(post_events, site):
    # given
    event = cart_updated("evt-1", ago(2), "60.00")
    event.update(customer_id="cust-7", customer_hmac=customer_identity_hmac(site.secret, "cust-7"))
    ok(post_events.widget([event]))
    # when
    ok(post_events.widget([cart_updated("evt-2", ago(1), "70.00")]))
    # then
    cart = Cart.objects.get()
    assert (cart.customer_id, cart.customer_verified) == ("cust-7", True)


def test_an_identity_signed_with_the_previous_secret_is_accepted_within_grace(
    post_events, site, frozen
):
    # given: a page rendered before the rotation still carries the old signature
    old_signature = customer_identity_hmac(site.secret, "cust-7")
    site_secret_rotate(site=site)
    frozen.move_to(NOW + timedelta(hours=23), tick=False)
    event = make_event(id="evt-1", occurred_at=iso(NOW + timedelta(hours=23)))
    event.update(customer_id="cust-7", customer_hmac=old_signature)
    # when
    response = post_events.widget([event])
    # then
    ok(response)
    assert Cart.objects.get().customer_verified is True


def test_an_identity_signed_with_the_previous_secret_is_refused_after_grace(
    post_events, site, frozen
):
    # given
    old_signature = customer_identity_hmac(site.secret, "cust-7")
    site_secret_rotate(site=site)
    frozen.move_to(NOW + timedelta(hours=24), tick=False)
    event = make_event(id="evt-1", occurred_at=iso(NOW + timedelta(hours=24)))
    event.update(customer_id="cust-7", customer_hmac=old_signature)
    # when
    response = post_events.widget([event])
    # then
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "events": {"0": {"customer_hmac": ["Does not match customer_id for this site."]}}
    }
    assert (Cart.objects.count(), CartEvent.objects.count()) == (0, 0)


# --- folding signals and deadlines -------------------------------------------------------


def test_a_new_cart_takes_its_ids_and_currency_from_its_first_event(post_events, site):
    # when
    ok(post_events.widget([cart_updated("evt-1", ago(1), "60.00")]))
    # then
    cart = Cart.objects.get()
    assert (cart.site, cart.external_id, cart.visitor_id, cart.currency) == (
        site,
        "cart-1",
        "visitor-1",
        "EUR",
    )
    assert (cart.stage, cart.status, cart.signal) == (Stage.CART, CartStatus.ACTIVE, "")


def test_a_cart_first_seen_without_a_currency_gets_the_site_currency(post_events, site):
    # when
    ok(post_events.widget([ev("checkout_step", "evt-1", ago(1), step="contact")]))
    # then
    assert Cart.objects.get().currency == "EUR"


@pytest.mark.parametrize(
    ("events", "stage", "signal", "detail"),
    [
        pytest.param(
            [ev("shipping_quoted", "e1", ago(1), currency="EUR", fee="4.90", method="express")],
            Stage.SHIPPING,
            "shipping_quoted",
            "express",
            id="quote-moves-to-shipping",
        ),
        pytest.param(
            [
                ev("checkout_step", "e1", ago(2), step="payment"),
                ev("shipping_quoted", "e2", ago(1), currency="EUR", fee="4.90"),
            ],
            Stage.PAYMENT,
            "shipping_quoted",
            "",
            id="quote-never-moves-back",
        ),
        pytest.param(
            [ev("payment_failed", "e1", ago(1), reason="card_declined")],
            Stage.PAYMENT,
            "payment_failed",
            "card_declined",
            id="payment-failed",
        ),
        pytest.param(
            [ev("coupon_rejected", "e1", ago(1), code="WELCOME10")],
            Stage.CART,
            "coupon_rejected",
            "WELCOME10",
            id="coupon-rejected",
        ),
        pytest.param(
            [
                ev("payment_failed", "e1", ago(2), reason="card_declined"),
                ev("checkout_step", "e2", ago(1), step="payment"),
            ],
            Stage.PAYMENT,
            "",
            "",
            id="a-step-clears-the-signal",
        ),
    ],
)
def test_signals_and_stages(post_events, site, events, stage, signal, detail):
    # when
    ok(post_events.widget(events))
    # then
    cart = Cart.objects.get()
    assert (cart.stage, cart.signal, cart.signal_detail) == (stage, signal, detail)


@pytest.mark.parametrize(
    ("events", "deadline"),
    [
        pytest.param(
            [cart_updated("e1", ago(2), "60.00")], ago(2) + timedelta(minutes=30), id="cart"
        ),
        pytest.param(
            [
                cart_updated("e1", ago(3), "60.00"),
                ev("checkout_step", "e2", ago(2), step="contact"),
            ],
            ago(2) + timedelta(minutes=10),
            id="contact",
        ),
        pytest.param(
            [
                cart_updated("e1", ago(3), "60.00"),
                ev("shipping_quoted", "e2", ago(2), currency="EUR", fee="4.90"),
            ],
            ago(2) + timedelta(minutes=5),
            id="shipping",
        ),
    ],
)
def test_the_deadline_is_last_activity_plus_the_stage_threshold(
    post_events, site, events, deadline
):
    # when
    ok(post_events.widget(events))
    # then
    assert Cart.objects.get().stall_deadline == deadline


def test_an_older_event_does_not_move_the_deadline(post_events, site):
    # given
    ok(post_events.widget([cart_updated("e1", ago(1), "60.00")]))
    # when
    ok(post_events.widget([cart_updated("e0", ago(20), "60.00")]))
    # then
    assert Cart.objects.get().stall_deadline == ago(1) + timedelta(minutes=30)


def test_a_cart_below_the_minimum_value_gets_no_deadline(post_events, site):
    # given
    StallRule.objects.filter(site=site, stage=Stage.CART).update(minimum_cart_value=Decimal(100))
    # when
    ok(post_events.widget([cart_updated("e1", ago(1), "99.99")]))
    # then
    assert Cart.objects.get().stall_deadline is None


def test_a_cart_at_a_stage_with_a_disabled_rule_gets_no_deadline(post_events, site):
    # given
    StallRule.objects.filter(site=site, stage=Stage.CART).update(enabled=False)
    # when
    ok(post_events.widget([cart_updated("e1", ago(1), "60.00")]))
    # then
    assert Cart.objects.get().stall_deadline is None


def test_activity_in_the_future_counts_as_now(post_events, site):
    # given: a browser clock 4 minutes fast (within the allowed skew)
    ahead = NOW + timedelta(minutes=4)
    # when
    ok(post_events.widget([cart_updated("e1", ahead, "60.00")]))
    # then: the deadline is not pushed out by a fast clock
    cart = Cart.objects.get()
    assert (cart.state_at, cart.last_activity_at) == (ahead, NOW)
    assert cart.stall_deadline == NOW + timedelta(minutes=30)


def test_new_activity_on_a_stalled_cart_makes_it_active_again(post_events, site):
    # given
    ok(post_events.widget([cart_updated("e1", ago(2), "60.00")]))
    Cart.objects.update(status=CartStatus.STALLED, stall_deadline=None)
    # when
    ok(post_events.widget([cart_updated("e2", ago(1), "70.00")]))
    # then
    cart = Cart.objects.get()
    assert (cart.status, cart.stall_deadline) == (
        CartStatus.ACTIVE,
        ago(1) + timedelta(minutes=30),
    )


def test_a_converted_cart_has_no_deadline(post_events, site):
    # when
    ok(
        post_events.widget(
            [
                cart_updated("e1", ago(2), "60.00"),
                ev("order_completed", "e2", ago(1), order_id="o-1", currency="EUR", total="60"),
            ]
        )
    )
    # then
    cart = Cart.objects.get()
    assert (cart.status, cart.stall_deadline) == (CartStatus.CONVERTED, None)


def test_the_pure_fold_names_the_models_stored_values():
    # The fold (domain/cart_state.py) imports no Django, so it spells the choices out.
    assert EventType.values == [
        cart_state.CART_UPDATED,
        cart_state.CHECKOUT_STEP,
        cart_state.SHIPPING_QUOTED,
        cart_state.PAYMENT_FAILED,
        cart_state.COUPON_REJECTED,
        cart_state.ORDER_COMPLETED,
        cart_state.OPTED_OUT,
    ]
    assert CartStatus.values == [cart_state.ACTIVE, cart_state.STALLED, cart_state.CONVERTED]
    assert StallSignal.values == [
        cart_state.NO_SIGNAL,
        cart_state.SHIPPING_QUOTED,
        cart_state.PAYMENT_FAILED,
        cart_state.COUPON_REJECTED,
    ]
    assert (cart_state.SHIPPING, cart_state.PAYMENT) == (Stage.SHIPPING, Stage.PAYMENT)
    assert list(STAGE_ORDER) == Stage.values


def test_only_a_signed_event_names_the_shopper_and_the_email_is_kept_masked():
    from cartassist.domain.cart_state import CartState, IncomingEvent, apply_event

    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    state = CartState(
        currency="EUR", subtotal=Decimal("10"), lines=[], shipping_fee=None,
        shipping_method="", shipping_country="", customer_id="", customer_verified=False,
        customer_segment="", totals_trusted=False, stage="cart", status="active", signal="",
        signal_detail="", order_id="", order_total=None, converted_at=None, state_at=now,
        last_activity_at=now,
    )  # fmt: skip
    event = IncomingEvent(
        type="checkout_step",
        occurred_at=now,
        data={"step": "contact"},
        customer_name="Mara Lindqvist",
        email="mara@example.com",
    )
    widget = apply_event(state, event, trusted=False, now=now).state
    server = apply_event(state, event, trusted=True, now=now).state
    assert (widget.customer_name, widget.customer_email_hint) == ("", "")
    assert (server.customer_name, server.customer_email_hint) == (
        "Mara Lindqvist",
        "m•••@example.com",
    )
