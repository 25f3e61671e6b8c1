"""Pure stall logic: deadline, classification, urgency. No database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartassist.domain.stalls import (
    STAGE_ORDER,
    CartSnapshot,
    Reason,
    RuleSnapshot,
    classify_stall,
    later_stage,
    score_urgency,
    stall_deadline,
)

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
RATIO = Decimal("0.15")

amounts = st.decimals(min_value=0, max_value=Decimal("999999999.99"), places=2)


def cart(**overrides: object) -> CartSnapshot:
    values: dict[str, object] = {
        "stage": "shipping",
        "subtotal": Decimal("60.00"),
        "shipping_fee": None,
        "signal": "",
        "last_activity_at": T0,
    }
    values.update(overrides)
    return CartSnapshot(**values)  # type: ignore[arg-type]


# --- stall_deadline ----------------------------------------------------------------------


def test_deadline_is_last_activity_plus_threshold():
    # given
    rule = RuleSnapshot(inactivity_threshold=timedelta(minutes=5), minimum_cart_value=Decimal(0))
    # when
    deadline = stall_deadline(
        stage="shipping", subtotal=Decimal("60.00"), last_activity_at=T0, rule=rule
    )
    # then
    assert deadline == datetime(2026, 3, 10, 12, 5, tzinfo=UTC)


def test_no_deadline_without_a_rule():
    # when
    deadline = stall_deadline(stage="cart", subtotal=Decimal(60), last_activity_at=T0, rule=None)
    # then
    assert deadline is None


def test_no_deadline_when_the_rule_is_disabled():
    # given
    rule = RuleSnapshot(
        inactivity_threshold=timedelta(minutes=5), minimum_cart_value=Decimal(0), enabled=False
    )
    # when
    deadline = stall_deadline(stage="cart", subtotal=Decimal(60), last_activity_at=T0, rule=rule)
    # then
    assert deadline is None


@pytest.mark.parametrize(
    ("subtotal", "expected"),
    [
        (Decimal("49.99"), None),
        (Decimal("50.00"), datetime(2026, 3, 10, 12, 5, tzinfo=UTC)),
        (Decimal("50.01"), datetime(2026, 3, 10, 12, 5, tzinfo=UTC)),
    ],
)
def test_minimum_cart_value_is_inclusive(subtotal, expected):
    # given
    rule = RuleSnapshot(
        inactivity_threshold=timedelta(minutes=5), minimum_cart_value=Decimal("50.00")
    )
    # when
    deadline = stall_deadline(stage="cart", subtotal=subtotal, last_activity_at=T0, rule=rule)
    # then
    assert deadline == expected


@given(
    subtotal=amounts,
    minimum=amounts,
    seconds=st.integers(min_value=1, max_value=7 * 24 * 3600),
)
def test_deadline_exists_exactly_when_the_cart_reaches_the_minimum(subtotal, minimum, seconds):
    # given
    rule = RuleSnapshot(inactivity_threshold=timedelta(seconds=seconds), minimum_cart_value=minimum)
    # when
    deadline = stall_deadline(stage="cart", subtotal=subtotal, last_activity_at=T0, rule=rule)
    # then
    if subtotal >= minimum:
        assert deadline == T0 + timedelta(seconds=seconds)
    else:
        assert deadline is None


# --- classify_stall ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fee", "subtotal", "expected"),
    [
        (Decimal("14.90"), Decimal("60.00"), Reason.SHIPPING_SHOCK),  # 24.8 %
        (Decimal("9.00"), Decimal("60.00"), Reason.SHIPPING_SHOCK),  # exactly 15 %
        (Decimal("8.99"), Decimal("60.00"), Reason.IDLE),  # just under 15 %
        (Decimal("4.90"), Decimal("60.00"), Reason.IDLE),
        (Decimal("0.00"), Decimal("60.00"), Reason.IDLE),  # free delivery shocks nobody
        (Decimal("4.90"), Decimal("0.00"), Reason.SHIPPING_SHOCK),  # any fee on nothing
        (Decimal("0.00"), Decimal("0.00"), Reason.IDLE),
    ],
)
def test_shipping_shock_is_a_fee_high_relative_to_the_subtotal(fee, subtotal, expected):
    # given
    snapshot = cart(signal="shipping_quoted", shipping_fee=fee, subtotal=subtotal)
    # when
    reason = classify_stall(snapshot, shipping_shock_ratio=RATIO)
    # then
    assert reason == expected


def test_shipping_shock_threshold_is_configurable():
    # given
    snapshot = cart(signal="shipping_quoted", shipping_fee=Decimal("4.90"))  # 8.2 %
    # when
    strict = classify_stall(snapshot, shipping_shock_ratio=Decimal("0.15"))
    lenient = classify_stall(snapshot, shipping_shock_ratio=Decimal("0.05"))
    # then
    assert (strict, lenient) == (Reason.IDLE, Reason.SHIPPING_SHOCK)


def test_a_quoted_fee_is_no_shock_once_a_later_step_cleared_the_signal():
    # given: the fee is still on the cart, but the shopper moved on (signal cleared)
    snapshot = cart(signal="", shipping_fee=Decimal("14.90"))
    # when
    reason = classify_stall(snapshot, shipping_shock_ratio=RATIO)
    # then
    assert reason == Reason.IDLE


@pytest.mark.parametrize(
    ("signal", "expected"),
    [
        ("payment_failed", Reason.PAYMENT_FAILED),
        ("coupon_rejected", Reason.COUPON_REJECTED),
        ("", Reason.IDLE),
    ],
)
def test_latest_signal_decides_the_reason(signal, expected):
    # given: a high fee on the cart does not matter when another signal is the latest
    snapshot = cart(signal=signal, shipping_fee=Decimal("30.00"))
    # when
    reason = classify_stall(snapshot, shipping_shock_ratio=RATIO)
    # then
    assert reason == expected


# --- score_urgency -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cart_value", "value_points"),
    [
        (Decimal(0), 0),
        (Decimal(1), 2),
        (Decimal(10), 8),
        (Decimal(60), 13),
        (Decimal(100), 15),
        (Decimal(1000), 22),
        (Decimal(10000), 30),
        (Decimal(1000000), 30),
    ],
)
def test_value_points_grow_logarithmically_up_to_30(cart_value, value_points):
    # when: idle (10 points) at the cart stage (0 points)
    urgency = score_urgency(reason=Reason.IDLE, stage="cart", cart_value=cart_value)
    # then
    assert urgency == 10 + value_points


@pytest.mark.parametrize(
    ("reason", "stage", "expected"),
    [
        (Reason.IDLE, "cart", 10 + 0 + 15),
        (Reason.COUPON_REJECTED, "contact", 25 + 10 + 15),
        (Reason.SHIPPING_SHOCK, "shipping", 35 + 20 + 15),
        (Reason.PAYMENT_FAILED, "payment", 40 + 30 + 15),
    ],
)
def test_urgency_adds_reason_stage_and_value_points(reason, stage, expected):
    # when
    urgency = score_urgency(reason=reason, stage=stage, cart_value=Decimal(100))
    # then
    assert urgency == expected


def test_urgency_tops_out_at_100():
    # when
    urgency = score_urgency(
        reason=Reason.PAYMENT_FAILED, stage="payment", cart_value=Decimal(10**9)
    )
    # then
    assert urgency == 100


@given(
    reason=st.sampled_from(Reason),
    stage=st.sampled_from(STAGE_ORDER),
    low=amounts,
    high=amounts,
)
def test_urgency_is_bounded_and_never_falls_as_value_rises(reason, stage, low, high):
    # given
    low, high = sorted((low, high))
    # when
    low_score = score_urgency(reason=reason, stage=stage, cart_value=low)
    high_score = score_urgency(reason=reason, stage=stage, cart_value=high)
    # then
    assert 0 <= low_score <= high_score <= 100


@given(reason=st.sampled_from(Reason), value=amounts, a=st.sampled_from(STAGE_ORDER))
def test_urgency_never_falls_further_into_checkout(reason, value, a):
    # given
    b = STAGE_ORDER[min(STAGE_ORDER.index(a) + 1, len(STAGE_ORDER) - 1)]
    # when / then
    assert score_urgency(reason=reason, stage=a, cart_value=value) <= score_urgency(
        reason=reason, stage=b, cart_value=value
    )


# --- later_stage -------------------------------------------------------------------------


@given(a=st.sampled_from(STAGE_ORDER), b=st.sampled_from(STAGE_ORDER))
def test_later_stage_is_the_one_further_into_checkout(a, b):
    # when
    later = later_stage(a, b)
    # then
    assert later == later_stage(b, a)
    assert STAGE_ORDER.index(later) == max(STAGE_ORDER.index(a), STAGE_ORDER.index(b))
