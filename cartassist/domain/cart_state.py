"""A cart's state, and how one event folds into it. Pure: no Django, ``now`` passed in.

Ingestion (services/ingest.py) loads each cart into a ``CartState``, folds the batch's
events into it oldest first with ``apply_event``, and writes it back. The rules:

- An event older than the state (``state_at``) is logged but not applied, and a converted
  cart takes no more events, except ``order_completed``, which always ends tracking
  (ADR 0002). A customer id is taken from any event, applied or not.
- Totals from a server-signed event outrank totals reported by the widget: once the shop
  backend has set a cart's totals, the widget's are ignored.
- An amount applies to a cart only in the cart's currency (ADR 0010): a ``cart_updated``
  in another currency restates the cart in it (the delivery quote, in the old currency,
  is forgotten); a ``shipping_quoted`` or ``order_completed`` whose amount would apply in
  another currency raises ``CurrencyMismatch``. Amounts that do not apply are not checked.
- The shopper's name and masked email come from signed server events only.
- The first order completion stands, except that the shop's signed order outranks one the
  widget reported first (whose total may be missing or wrong).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, Final

from cartassist.domain.contacts import mask_email
from cartassist.domain.stalls import later_stage

# The stored values of cartassist.models' EventType, CartStatus, StallSignal and Stage
# (tests/cartassist/test_ingest_state.py checks they agree).
CART_UPDATED: Final = "cart_updated"
CHECKOUT_STEP: Final = "checkout_step"
SHIPPING_QUOTED: Final = "shipping_quoted"
PAYMENT_FAILED: Final = "payment_failed"
COUPON_REJECTED: Final = "coupon_rejected"
ORDER_COMPLETED: Final = "order_completed"
OPTED_OUT: Final = "opted_out"

ACTIVE: Final = "active"
STALLED: Final = "stalled"
CONVERTED: Final = "converted"

NO_SIGNAL: Final = ""  # the signals are named after the event that gives them
SHIPPING: Final = "shipping"
PAYMENT: Final = "payment"


class CurrencyMismatch(Exception):
    """An amount would apply to a cart in another currency than the cart's (ADR 0010)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class CartState:
    """What the events of a cart have told so far (the fields of ``Cart`` they set)."""

    currency: str
    subtotal: Decimal
    lines: Any  # JSON: amounts as strings
    shipping_fee: Decimal | None
    shipping_method: str
    shipping_country: str
    customer_id: str
    customer_verified: bool
    customer_segment: str
    totals_trusted: bool
    stage: str
    status: str
    signal: str
    signal_detail: str
    order_id: str
    order_total: Decimal | None
    converted_at: datetime | None
    state_at: datetime
    last_activity_at: datetime
    # Who the shopper is, from signed server events only (shown to agents).
    customer_name: str = ""
    customer_email_hint: str = ""  # masked: m•••@example.com (ADR 0016)

    @classmethod
    def of(cls, cart: Any) -> CartState:
        """The state of any object with these attributes (a ``Cart`` row, say)."""
        return cls(*_STATE_VALUES(cart))

    def changed(self, changes: Mapping[str, Any]) -> CartState:
        """``dataclasses.replace(self, **changes)``, for the fold's hot loop: positional
        values instead of a keyword dict built field by field (half the time)."""
        values = list(_STATE_VALUES(self))
        for name, value in changes.items():
            values[_STATE_INDEX[name]] = value
        return CartState(*values)


CART_STATE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(CartState))
_STATE_VALUES = attrgetter(*CART_STATE_FIELDS)
_STATE_INDEX = {name: index for index, name in enumerate(CART_STATE_FIELDS)}


@dataclass(frozen=True, slots=True)
class IncomingEvent:
    """One validated event, as the fold sees it."""

    type: str
    occurred_at: datetime
    data: Mapping[str, Any]
    customer_id: str = ""
    customer_verified: bool = False
    customer_name: str = ""  # signed server events only
    email: str = ""  # normalised; signed server events only

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> IncomingEvent:
        """From a validated event (cartassist.api.serializers.validate_events)."""
        return cls(
            type=event["type"],
            occurred_at=event["occurred_at"],
            data=event["data"],
            customer_id=event.get("customer_id", ""),
            customer_verified=event.get("customer_verified", False),
            customer_name=event.get("customer_name", ""),
            email=event.get("email", ""),
        )


@dataclass(frozen=True, slots=True)
class Folded:
    state: CartState
    applied: bool  # False: too old (or the order stands); logged, not applied


def apply_event(state: CartState, event: IncomingEvent, *, trusted: bool, now: datetime) -> Folded:
    """Fold ``event`` into ``state`` (see the module docstring).

    ``trusted``: the event came signed from the shop backend. Raises ``CurrencyMismatch``.
    """
    customer = {**_customer_changes(state, event), **_shopper_changes(state, event, trusted)}
    if event.type == OPTED_OUT:  # a visitor-level fact: applies whatever the state
        return Folded(state.changed(customer) if customer else state, applied=True)
    if event.type != ORDER_COMPLETED and (
        event.occurred_at < state.state_at or state.status == CONVERTED
    ):
        return Folded(state.changed(customer) if customer else state, applied=False)
    fold = _FOLDS.get(event.type, _unchanged)
    changes = fold(state, event, trusted, trusted or not state.totals_trusted)
    if changes is None:
        return Folded(state.changed(customer) if customer else state, applied=False)
    return Folded(
        state.changed({**customer, **changes, **_activity(state, event, now=now)}),
        applied=True,
    )


def exact_json(value: Any) -> Any:
    """``value`` with Decimals as strings, so that stored JSON keeps amounts exact."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: exact_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [exact_json(v) for v in value]
    return value


# --- one function per event type ---------------------------------------------------------
# Each takes (state, event, trusted, may_set_totals) and returns the fields it changes, or
# None when the event does not apply after all.

Changes = dict[str, Any]
Fold = Callable[[CartState, IncomingEvent, bool, bool], "Changes | None"]


def _cart_updated(
    state: CartState, event: IncomingEvent, trusted: bool, may_set_totals: bool
) -> Changes:
    data = event.data
    changes: Changes = {}
    if may_set_totals:
        if data["currency"] != state.currency:
            changes.update(_currency_switch(state))
        changes.update(
            currency=data["currency"],
            subtotal=data["subtotal"],
            lines=exact_json(data["lines"]),
            totals_trusted=trusted,
        )
    if trusted:
        changes["customer_segment"] = data.get("customer_segment", "")
    return changes


def _checkout_step(
    state: CartState, event: IncomingEvent, trusted: bool, may_set_totals: bool
) -> Changes:
    return {"stage": event.data["step"], "signal": NO_SIGNAL, "signal_detail": ""}


def _shipping_quoted(
    state: CartState, event: IncomingEvent, trusted: bool, may_set_totals: bool
) -> Changes:
    data = event.data
    changes: Changes = {}
    if may_set_totals:
        _check_currency(state, data["currency"])
        changes.update(
            shipping_fee=data["fee"],
            shipping_method=data.get("method", ""),
            shipping_country=data.get("country", ""),
        )
    changes.update(
        stage=later_stage(state.stage, SHIPPING),
        signal=SHIPPING_QUOTED,
        signal_detail=data.get("method", ""),
    )
    return changes


def _payment_failed(
    state: CartState, event: IncomingEvent, trusted: bool, may_set_totals: bool
) -> Changes:
    return {
        "stage": PAYMENT,
        "signal": PAYMENT_FAILED,
        "signal_detail": event.data.get("reason", ""),
    }


def _coupon_rejected(
    state: CartState, event: IncomingEvent, trusted: bool, may_set_totals: bool
) -> Changes:
    return {"signal": COUPON_REJECTED, "signal_detail": event.data["code"]}


def _order_completed(
    state: CartState, event: IncomingEvent, trusted: bool, may_set_totals: bool
) -> Changes | None:
    if _order_stands(state, trusted=trusted):
        return None
    data = event.data
    if may_set_totals:
        _check_currency(state, data["currency"])
    same_order = state.converted_at is not None and state.order_id == data["order_id"]
    changes: Changes = {
        "status": CONVERTED,
        "order_id": data["order_id"],
        "converted_at": state.converted_at if same_order else event.occurred_at,
    }
    if may_set_totals:
        changes.update(order_total=data["total"], totals_trusted=trusted)
    return changes


def _unchanged(
    state: CartState, event: IncomingEvent, trusted: bool, may_set_totals: bool
) -> Changes:
    return {}


_FOLDS: dict[str, Fold] = {
    CART_UPDATED: _cart_updated,
    CHECKOUT_STEP: _checkout_step,
    SHIPPING_QUOTED: _shipping_quoted,
    PAYMENT_FAILED: _payment_failed,
    COUPON_REJECTED: _coupon_rejected,
    ORDER_COMPLETED: _order_completed,
}


# --- the rules the folds share -----------------------------------------------------------


def _customer_changes(state: CartState, event: IncomingEvent) -> Changes:
    """A customer id from any event; a verified one is never replaced by an unverified one."""
    if event.customer_id and (event.customer_verified or not state.customer_verified):
        return {"customer_id": event.customer_id, "customer_verified": event.customer_verified}
    return {}


def _shopper_changes(state: CartState, event: IncomingEvent, trusted: bool) -> Changes:
    """The shopper's name and masked email, from a signed server event only (the widget's
    events are not authenticated, so they could name anyone), applied or not: the newest
    event wins, and an older one only fills what is still empty."""
    if not trusted:
        return {}
    newest = event.occurred_at >= state.state_at
    changes: Changes = {}
    name = " ".join(event.customer_name.split())[:120]
    if name and (newest or not state.customer_name):
        changes["customer_name"] = name
    hint = mask_email(event.email) if event.email else ""
    if hint and (newest or not state.customer_email_hint):
        changes["customer_email_hint"] = hint[:120]
    return changes


def _order_stands(state: CartState, *, trusted: bool) -> bool:
    """The cart's order is kept: the first order completion stands, except that the
    shop's signed order outranks one the widget reported first."""
    return (
        state.status == CONVERTED
        and bool(state.order_id)
        and (not trusted or (state.totals_trusted and state.order_total is not None))
    )


def _activity(state: CartState, event: IncomingEvent, *, now: datetime) -> Changes:
    """After an applied event: the stall is over (new activity), and the state and the
    last activity move on (activity in the future counts as ``now``)."""
    changes: Changes = {
        "state_at": max(state.state_at, event.occurred_at),
        "last_activity_at": max(state.last_activity_at, min(event.occurred_at, now)),
    }
    if event.type != ORDER_COMPLETED and state.status == STALLED:
        changes["status"] = ACTIVE
    return changes


def _check_currency(state: CartState, currency: str) -> None:
    """Refuse an amount in another currency than the cart's (it would be mixed with it)."""
    if currency != state.currency:
        raise CurrencyMismatch(
            f"This cart is in {state.currency}: send amounts in {state.currency}. "
            f"To switch the cart to {currency}, first send a cart_updated in {currency}."
        )


def _currency_switch(state: CartState) -> Changes:
    """A cart_updated in another currency restates the cart in it: the shipping quote was
    in the old currency, so it is forgotten until a new one is quoted."""
    changes: Changes = {"shipping_fee": None, "shipping_method": "", "shipping_country": ""}
    if state.signal == SHIPPING_QUOTED:
        changes.update(signal=NO_SIGNAL, signal_detail="")
    return changes
