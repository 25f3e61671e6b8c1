"""Folding one event into a cart's state (domain/cart_state.py). Pure: no database.

The rules: ADR 0002 (never roll back), trusted totals outrank the widget's, ADR 0010 (an
amount applies only in the cart's currency).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartassist.domain.cart_state import (
    CART_STATE_FIELDS,
    CartState,
    CurrencyMismatch,
    Folded,
    IncomingEvent,
    apply_event,
    exact_json,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
STATE_AT = NOW - timedelta(minutes=10)

FRESH = CartState(
    currency="EUR",
    subtotal=Decimal("40.00"),
    lines=[{"sku": "SKU-1", "name": "Thing", "quantity": 1, "unit_price": "40.00"}],
    shipping_fee=None,
    shipping_method="",
    shipping_country="",
    customer_id="",
    customer_verified=False,
    customer_segment="",
    totals_trusted=False,
    stage="cart",
    status="active",
    signal="",
    signal_detail="",
    order_id="",
    order_total=None,
    converted_at=None,
    state_at=STATE_AT,
    last_activity_at=STATE_AT,
)
QUOTED = replace(
    FRESH,
    stage="shipping",
    shipping_fee=Decimal("9.90"),
    shipping_method="express",
    shipping_country="DE",
    signal="shipping_quoted",
    signal_detail="express",
)
TRUSTED = replace(QUOTED, subtotal=Decimal("50.00"), totals_trusted=True)
WIDGET_ORDER = replace(
    FRESH,
    status="converted",
    order_id="A-1",
    order_total=None,
    converted_at=STATE_AT,
)


def event(kind: str, minutes_ago: float = 1, **data: Any) -> IncomingEvent:
    return IncomingEvent(type=kind, occurred_at=NOW - timedelta(minutes=minutes_ago), data=data)


def widget(state: CartState, incoming: IncomingEvent) -> Folded:
    return apply_event(state, incoming, trusted=False, now=NOW)


def server(state: CartState, incoming: IncomingEvent) -> Folded:
    return apply_event(state, incoming, trusted=True, now=NOW)


def moved(state: CartState, minutes_ago: float = 1, **changes: Any) -> CartState:
    """``state`` after an applied event ``minutes_ago``: state and activity move on."""
    at = NOW - timedelta(minutes=minutes_ago)
    return replace(state, state_at=at, last_activity_at=at, **changes)


# --- each event type ---------------------------------------------------------------------


def test_a_cart_update_sets_currency_subtotal_and_lines_with_exact_amounts():
    # given
    lines = [{"sku": "SKU-2", "name": "Lamp", "quantity": 2, "unit_price": Decimal("21.00")}]
    # when
    folded = widget(
        FRESH, event("cart_updated", currency="EUR", subtotal=Decimal("42.00"), lines=lines)
    )
    # then: amounts in the lines are stored as strings
    stored = [{"sku": "SKU-2", "name": "Lamp", "quantity": 2, "unit_price": "21.00"}]
    assert folded == Folded(moved(FRESH, subtotal=Decimal("42.00"), lines=stored), applied=True)


def test_a_checkout_step_sets_the_stage_and_clears_the_signal():
    folded = widget(QUOTED, event("checkout_step", step="payment"))
    assert folded == Folded(
        moved(QUOTED, stage="payment", signal="", signal_detail=""), applied=True
    )


def test_a_checkout_step_may_go_back():
    folded = widget(replace(FRESH, stage="payment"), event("checkout_step", step="contact"))
    assert folded.state.stage == "contact"


def test_a_shipping_quote_sets_the_fee_and_moves_the_stage_forward():
    # when
    folded = widget(
        FRESH,
        event(
            "shipping_quoted", currency="EUR", fee=Decimal("4.90"), method="standard", country="FR"
        ),
    )
    # then
    assert folded == Folded(
        moved(
            FRESH,
            stage="shipping",
            shipping_fee=Decimal("4.90"),
            shipping_method="standard",
            shipping_country="FR",
            signal="shipping_quoted",
            signal_detail="standard",
        ),
        applied=True,
    )


def test_a_shipping_quote_at_the_payment_step_keeps_the_stage():
    folded = widget(
        replace(FRESH, stage="payment"),
        event("shipping_quoted", currency="EUR", fee=Decimal("4.90")),
    )
    assert (folded.state.stage, folded.state.shipping_method, folded.state.signal_detail) == (
        "payment",
        "",
        "",
    )


def test_a_failed_payment_moves_to_the_payment_step_with_its_reason():
    folded = widget(QUOTED, event("payment_failed", reason="card_declined"))
    assert folded == Folded(
        moved(QUOTED, stage="payment", signal="payment_failed", signal_detail="card_declined"),
        applied=True,
    )


def test_a_rejected_coupon_is_the_signal_with_its_code():
    folded = widget(QUOTED, event("coupon_rejected", code="SAVE10"))
    assert folded == Folded(
        moved(QUOTED, signal="coupon_rejected", signal_detail="SAVE10"), applied=True
    )


def test_an_order_converts_the_cart_with_its_total():
    # when
    folded = server(
        QUOTED, event("order_completed", 2, order_id="A-1", currency="EUR", total=Decimal("49.90"))
    )
    # then
    assert folded == Folded(
        moved(
            QUOTED,
            2,
            status="converted",
            order_id="A-1",
            order_total=Decimal("49.90"),
            totals_trusted=True,
            converted_at=NOW - timedelta(minutes=2),
        ),
        applied=True,
    )


def test_an_opt_out_applies_whatever_its_age_and_changes_no_cart_field():
    # given: a converted cart, and an opt-out older than its state
    folded = widget(WIDGET_ORDER, event("opted_out", 60))
    # then
    assert folded == Folded(WIDGET_ORDER, applied=True)


# --- never roll back (ADR 0002) ------------------------------------------------------------


@pytest.mark.parametrize(
    "incoming",
    [
        event("cart_updated", 11, currency="EUR", subtotal=Decimal("1.00"), lines=[]),
        event("checkout_step", 11, step="payment"),
        event("shipping_quoted", 11, currency="EUR", fee=Decimal("1.00")),
        event("payment_failed", 11, reason="card_declined"),
        event("coupon_rejected", 11, code="OLD"),
    ],
    ids=lambda e: e.type,
)
def test_an_event_older_than_the_state_is_not_applied(incoming):
    assert widget(QUOTED, incoming) == Folded(QUOTED, applied=False)


def test_an_older_event_in_another_currency_is_not_checked():
    folded = widget(QUOTED, event("shipping_quoted", 11, currency="USD", fee=Decimal("1.00")))
    assert folded == Folded(QUOTED, applied=False)


def test_an_event_at_the_same_moment_as_the_state_applies():
    folded = widget(QUOTED, event("coupon_rejected", 10, code="SAME"))
    assert (folded.applied, folded.state.signal_detail) == (True, "SAME")


def test_an_older_event_still_gives_its_customer_id():
    older = replace(event("coupon_rejected", 11, code="OLD"), customer_id="cust-9")
    folded = widget(QUOTED, older)
    assert folded == Folded(replace(QUOTED, customer_id="cust-9"), applied=False)


def test_events_after_the_order_are_not_applied():
    assert widget(WIDGET_ORDER, event("checkout_step", step="payment")) == Folded(
        WIDGET_ORDER, applied=False
    )


def test_an_order_applies_even_when_older_than_the_state():
    folded = server(
        QUOTED, event("order_completed", 30, order_id="A-1", currency="EUR", total=Decimal("49.90"))
    )
    # then: converted as of the order; the state time does not go back
    assert (
        folded.applied,
        folded.state.status,
        folded.state.converted_at,
        folded.state.state_at,
    ) == (
        True,
        "converted",
        NOW - timedelta(minutes=30),
        STATE_AT,
    )


def test_the_first_order_completion_stands():
    # given: the widget reported order A-1; when: the widget reports another order
    second = event("order_completed", order_id="A-2", currency="EUR", total=Decimal("10.00"))
    # then
    assert widget(WIDGET_ORDER, second) == Folded(WIDGET_ORDER, applied=False)


def test_a_signed_order_outranks_the_widget_one_and_keeps_its_time_when_it_is_the_same():
    # when: the shop backend reports the same order, later, with its total
    signed = event("order_completed", order_id="A-1", currency="EUR", total=Decimal("39.90"))
    folded = server(WIDGET_ORDER, signed)
    # then: the total is the shop's; the order time stays the first report's
    assert folded == Folded(
        moved(WIDGET_ORDER, order_total=Decimal("39.90"), totals_trusted=True), applied=True
    )


def test_a_signed_order_with_another_id_replaces_the_widget_one_and_its_time():
    signed = event("order_completed", order_id="B-7", currency="EUR", total=Decimal("39.90"))
    folded = server(WIDGET_ORDER, signed)
    assert (folded.state.order_id, folded.state.converted_at) == ("B-7", NOW - timedelta(minutes=1))


def test_a_signed_order_with_its_total_stands_against_another_signed_order():
    # given: the shop's order with its total
    shop_order = replace(WIDGET_ORDER, order_total=Decimal("39.90"), totals_trusted=True)
    # when: the shop reports an order again
    again = event("order_completed", order_id="A-2", currency="USD", total=Decimal("1.00"))
    # then: not applied, and its currency is not checked
    assert server(shop_order, again) == Folded(shop_order, applied=False)


# --- activity ----------------------------------------------------------------------------


def test_new_activity_on_a_stalled_cart_makes_it_active_again():
    folded = widget(replace(QUOTED, status="stalled"), event("checkout_step", step="payment"))
    assert folded.state.status == "active"


def test_an_order_on_a_stalled_cart_converts_it():
    folded = widget(
        replace(QUOTED, status="stalled"),
        event("order_completed", order_id="A-1", currency="EUR", total=Decimal("1.00")),
    )
    assert folded.state.status == "converted"


def test_activity_in_the_future_counts_as_now():
    folded = widget(QUOTED, event("checkout_step", -5, step="payment"))
    assert (folded.state.state_at, folded.state.last_activity_at) == (
        NOW + timedelta(minutes=5),
        NOW,
    )


# --- trusted totals ----------------------------------------------------------------------


def test_widget_totals_do_not_override_server_totals():
    # when: the widget reports other totals for a cart the shop backend set
    update = event("cart_updated", currency="EUR", subtotal=Decimal("1.00"), lines=[])
    # then: applied (activity), totals kept
    assert widget(TRUSTED, update) == Folded(moved(TRUSTED), applied=True)


def test_server_totals_override_widget_totals_and_set_the_segment():
    update = event(
        "cart_updated", currency="EUR", subtotal=Decimal("80.00"), lines=[], customer_segment="vip"
    )
    folded = server(QUOTED, update)
    assert folded == Folded(
        moved(
            QUOTED, subtotal=Decimal("80.00"), lines=[], totals_trusted=True, customer_segment="vip"
        ),
        applied=True,
    )


def test_the_segment_comes_only_from_the_server():
    update = event(
        "cart_updated", currency="EUR", subtotal=Decimal("80.00"), lines=[], customer_segment="vip"
    )
    assert widget(QUOTED, update).state.customer_segment == ""


def test_a_widget_shipping_quote_moves_the_stage_but_keeps_the_server_fee():
    trusted_at_cart = replace(TRUSTED, stage="cart")
    quote = event("shipping_quoted", currency="EUR", fee=Decimal("0.00"), method="pickup")
    folded = widget(trusted_at_cart, quote)
    assert folded == Folded(
        moved(trusted_at_cart, stage="shipping", signal_detail="pickup"), applied=True
    )


def test_a_widget_order_on_a_trusted_cart_keeps_the_server_total():
    order = event("order_completed", order_id="A-1", currency="EUR", total=Decimal("1.00"))
    folded = widget(replace(TRUSTED, order_total=Decimal("59.90")), order)
    assert (folded.state.status, folded.state.order_total, folded.state.totals_trusted) == (
        "converted",
        Decimal("59.90"),
        True,
    )


# --- currency (ADR 0010) -----------------------------------------------------------------

MISMATCH = (
    "This cart is in EUR: send amounts in EUR. "
    "To switch the cart to USD, first send a cart_updated in USD."
)


def test_a_shipping_quote_in_another_currency_is_refused():
    with pytest.raises(CurrencyMismatch) as refused:
        widget(FRESH, event("shipping_quoted", currency="USD", fee=Decimal("4.90")))
    assert refused.value.message == MISMATCH


def test_an_order_in_another_currency_is_refused():
    with pytest.raises(CurrencyMismatch) as refused:
        server(FRESH, event("order_completed", order_id="A-1", currency="USD", total=Decimal("1")))
    assert refused.value.message == MISMATCH


def test_a_cart_update_in_another_currency_switches_the_cart_and_forgets_the_quote():
    update = event("cart_updated", currency="USD", subtotal=Decimal("45.00"), lines=[])
    folded = widget(QUOTED, update)
    assert folded == Folded(
        moved(
            QUOTED,
            currency="USD",
            subtotal=Decimal("45.00"),
            lines=[],
            shipping_fee=None,
            shipping_method="",
            shipping_country="",
            signal="",
            signal_detail="",
        ),
        applied=True,
    )


def test_a_switch_keeps_a_signal_that_is_not_the_quote():
    failed = replace(QUOTED, signal="payment_failed", signal_detail="card_declined")
    update = event("cart_updated", currency="USD", subtotal=Decimal("45.00"), lines=[])
    folded = widget(failed, update)
    assert (folded.state.shipping_fee, folded.state.signal, folded.state.signal_detail) == (
        None,
        "payment_failed",
        "card_declined",
    )


def test_widget_amounts_the_server_outranks_are_ignored_in_any_currency():
    quote = event("shipping_quoted", currency="USD", fee=Decimal("1.00"))
    update = event("cart_updated", currency="USD", subtotal=Decimal("1.00"), lines=[])
    assert widget(TRUSTED, quote).state.shipping_fee == Decimal("9.90")
    assert widget(TRUSTED, update).state.currency == "EUR"


# --- identity ----------------------------------------------------------------------------


def test_a_verified_customer_id_is_not_replaced_by_an_unverified_one():
    verified = replace(FRESH, customer_id="cust-1", customer_verified=True)
    claim = replace(event("checkout_step", step="contact"), customer_id="cust-2")
    assert widget(verified, claim).state.customer_id == "cust-1"


def test_a_verified_customer_id_replaces_an_unverified_one():
    unverified = replace(FRESH, customer_id="cust-1")
    signed = replace(
        event("checkout_step", step="contact"), customer_id="cust-2", customer_verified=True
    )
    state = widget(unverified, signed).state
    assert (state.customer_id, state.customer_verified) == ("cust-2", True)


def test_an_event_without_a_customer_id_keeps_the_identity():
    verified = replace(FRESH, customer_id="cust-1", customer_verified=True)
    state = widget(verified, event("checkout_step", step="contact")).state
    assert (state.customer_id, state.customer_verified) == ("cust-1", True)


# --- loading and properties --------------------------------------------------------------


def test_the_state_of_an_object_reads_every_field():
    class Row:
        pass

    row = Row()
    for name in CART_STATE_FIELDS:
        setattr(row, name, getattr(QUOTED, name))
    assert CartState.of(row) == QUOTED


def test_an_incoming_event_reads_a_validated_event():
    validated = {
        "id": "evt-1",
        "type": "checkout_step",
        "occurred_at": NOW,
        "cart_id": "c1",
        "visitor_id": "v1",
        "customer_id": "cust-1",
        "customer_verified": True,
        "data": {"step": "contact"},
    }
    assert IncomingEvent.of(validated) == IncomingEvent(
        type="checkout_step",
        occurred_at=NOW,
        data={"step": "contact"},
        customer_id="cust-1",
        customer_verified=True,
    )


def test_exact_json_keeps_amounts_as_strings():
    assert exact_json({"a": [Decimal("1.10"), {"b": Decimal("0")}], "c": 2}) == {
        "a": ["1.10", {"b": "0"}],
        "c": 2,
    }


kinds = st.sampled_from(["cart_updated", "checkout_step", "shipping_quoted", "payment_failed"])


@given(kind=kinds, minutes=st.integers(min_value=1, max_value=10_000), trusted=st.booleans())
def test_no_event_but_an_order_changes_a_converted_cart(kind, minutes, trusted):
    data = {
        "cart_updated": {"currency": "USD", "subtotal": Decimal("1"), "lines": []},
        "checkout_step": {"step": "payment"},
        "shipping_quoted": {"currency": "USD", "fee": Decimal("1")},
        "payment_failed": {"reason": "x"},
    }[kind]
    incoming = IncomingEvent(
        type=kind, occurred_at=NOW - timedelta(minutes=minutes - 60), data=data
    )
    folded = apply_event(WIDGET_ORDER, incoming, trusted=trusted, now=NOW)
    assert folded == Folded(WIDGET_ORDER, applied=False)
