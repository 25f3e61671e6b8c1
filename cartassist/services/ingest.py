"""Cart event ingestion: store each event once, fold it into cart state, set the deadline.

docs/ARCHITECTURE.md, "Track". House rules that matter here:
- an event id is stored once per site (unique constraint + the cart row lock);
- an event older than the cart's state is logged but does not roll the state back;
- totals from a server-signed event outrank totals reported by the widget;
- an amount is applied to a cart only in the cart's currency: a `cart_updated` in
  another currency restates the cart and switches it (clearing the shipping quote, which
  was in the old currency); a `shipping_quoted` or `order_completed` whose amount would
  apply in another currency refuses the whole batch (ADR 0010).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from cartassist.domain.attribution import IdentityKey
from cartassist.domain.stalls import RuleSnapshot, later_stage, stall_deadline
from cartassist.locks import carts_for_update
from cartassist.models import (
    Cart,
    CartEvent,
    CartStatus,
    EventSource,
    EventType,
    Site,
    Stage,
    StallRule,
    StallSignal,
    Visitor,
)
from cartassist.services.shoppers import cart_identities, shoppers_link


class EventsRefused(Exception):
    """The batch is refused as a whole and nothing of it is stored.

    ``errors`` maps the index of each refused event in the request's ``events`` list to
    its field errors, in the API's error shape (docs/API.md, "Errors").
    """

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__("events refused")
        self.errors = errors


class CurrencyMismatch(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class IngestResult:
    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"stored": self.stored, "duplicates": self.duplicates}


def cart_events_ingest(
    *, site: Site, events: list[dict[str, Any]], source: EventSource, now: datetime
) -> IngestResult:
    """Store a validated batch of events and apply them to their carts, atomically.

    1. Drop ids repeated inside the batch; look up ids already stored (duplicates).
    2. Lock (creating if needed) every cart the new events touch.
    3. Apply the new events oldest first, store them, and save each cart once.
    4. Link each cart's visitor and customer ids to its shopper (``shoppers_link``),
       and refresh the outcomes of new orders and of shoppers that merged.

    Two requests carrying the same event race on the unique constraint; the loser
    retries once and then sees the event as a duplicate. An event whose amount would
    apply in another currency than its cart's raises ``EventsRefused`` for the batch
    (rolled back: nothing stored).
    """
    for attempt in range(2):
        try:
            return _ingest_once(site=site, events=events, source=source, now=now)
        except IntegrityError:
            if attempt == 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _ingest_once(
    *, site: Site, events: list[dict[str, Any]], source: EventSource, now: datetime
) -> IngestResult:
    result = IngestResult()
    unique: dict[str, dict[str, Any]] = {}
    index_of: dict[str, int] = {}  # position in the request, for field-level errors
    for index, event in enumerate(events):
        if event["id"] in unique:
            result.duplicates.append(event["id"])
        else:
            unique[event["id"]] = event
            index_of[event["id"]] = index

    with transaction.atomic():
        already = set(
            CartEvent.objects.filter(site=site, event_id__in=list(unique)).values_list(
                "event_id", flat=True
            )
        )
        result.duplicates.extend(event_id for event_id in unique if event_id in already)
        new_events = sorted(
            (e for e in unique.values() if e["id"] not in already),
            key=lambda e: e["occurred_at"],
        )
        if not new_events:
            return result

        carts = carts_for_update(site=site, first_events=_first_event_per_cart(new_events), now=now)
        rules = _rule_snapshots(site)
        rows: list[CartEvent] = []
        opted_out: dict[str, datetime] = {}
        refused: dict[str, Any] = {}
        for event in new_events:
            cart = carts[event["cart_id"]]
            try:
                applied = _apply(cart, event, source=source, now=now)
            except CurrencyMismatch as mismatch:
                refused[str(index_of[event["id"]])] = {"data": {"currency": [mismatch.message]}}
                continue
            if event["type"] == EventType.OPTED_OUT:
                opted_out[event["visitor_id"]] = event["occurred_at"]
            rows.append(
                CartEvent(
                    site=site,
                    cart=cart,
                    event_id=event["id"],
                    type=event["type"],
                    source=source,
                    visitor_id=event["visitor_id"],
                    customer_id=event.get("customer_id", ""),
                    occurred_at=event["occurred_at"],
                    received_at=now,
                    applied=applied,
                    data=_json_safe(event["data"]),
                )
            )
            result.stored.append(event["id"])
        if refused:
            raise EventsRefused(refused)  # rolls the whole batch back

        for cart in {id(c): c for c in (carts[e["cart_id"]] for e in new_events)}.values():
            rule = rules.get(cart.stage)
            cart.stall_deadline = (
                stall_deadline(
                    stage=cart.stage,
                    subtotal=cart.subtotal,
                    last_activity_at=cart.last_activity_at,
                    rule=rule,
                )
                if cart.status != CartStatus.CONVERTED
                else None
            )
            cart.save()
        CartEvent.objects.bulk_create(rows)
        if opted_out:
            _record_opt_outs(site, opted_out)
        # Last, so that the shopper lock, when it is needed, is held only for identity rows.
        merged = shoppers_link(site_id=site.pk, carts=_cart_identities(carts, new_events))
        ordered = [r.cart_id for r in rows if r.type == EventType.ORDER_COMPLETED and r.applied]
        if ordered or merged:
            from cartassist.tasks import outcomes_refresh_on_commit

            outcomes_refresh_on_commit([*ordered, *merged])
    return result


def _cart_identities(
    carts: dict[str, Cart], events: Iterable[dict[str, Any]]
) -> dict[int, set[IdentityKey]]:
    """Each touched cart's visitor id and every customer id its events gave it."""
    identities: dict[int, set[IdentityKey]] = {}
    for event in events:
        cart = carts[event["cart_id"]]
        keys = identities.setdefault(
            cart.pk,
            cart_identities(visitor_id=cart.visitor_id, customer_ids=[cart.customer_id]),
        )
        keys |= cart_identities(visitor_id="", customer_ids=[event.get("customer_id", "")])
    return identities


def _first_event_per_cart(events: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    first: dict[str, dict[str, Any]] = {}
    for event in events:
        first.setdefault(event["cart_id"], event)
    return first


def _rule_snapshots(site: Site) -> dict[str, RuleSnapshot]:
    return {
        rule.stage: RuleSnapshot(
            inactivity_threshold=rule.inactivity_threshold,
            minimum_cart_value=rule.minimum_cart_value,
            enabled=rule.enabled,
        )
        for rule in StallRule.objects.filter(site=site)
    }


def _apply(cart: Cart, event: dict[str, Any], *, source: EventSource, now: datetime) -> bool:
    """Fold one event into ``cart``; return False when the event is too old to apply."""
    occurred_at: datetime = event["occurred_at"]
    kind = event["type"]
    data = event["data"]
    if event.get("customer_id") and (event["customer_verified"] or not cart.customer_verified):
        cart.customer_id = event["customer_id"]
        cart.customer_verified = event["customer_verified"]
    if kind == EventType.OPTED_OUT:
        return True  # a visitor-level fact: always applies, whatever the cart state
    if kind != EventType.ORDER_COMPLETED and (
        occurred_at < cart.state_at or cart.status == CartStatus.CONVERTED
    ):
        return False

    trusted = source == EventSource.SERVER
    may_set_totals = trusted or not cart.totals_trusted
    if kind == EventType.CART_UPDATED:
        if may_set_totals:
            if data["currency"] != cart.currency:
                _switch_currency(cart)
            cart.currency = data["currency"]
            cart.subtotal = data["subtotal"]
            cart.lines = _json_safe(data["lines"])
            cart.totals_trusted = trusted
        if trusted:
            cart.customer_segment = data.get("customer_segment", "")
    elif kind == EventType.CHECKOUT_STEP:
        cart.stage = data["step"]
        cart.signal, cart.signal_detail = StallSignal.NONE, ""
    elif kind == EventType.SHIPPING_QUOTED:
        if may_set_totals:
            _check_currency(cart, data["currency"])
            cart.shipping_fee = data["fee"]
            cart.shipping_method = data.get("method", "")
            cart.shipping_country = data.get("country", "")
        cart.stage = later_stage(cart.stage, Stage.SHIPPING)
        cart.signal, cart.signal_detail = StallSignal.SHIPPING_QUOTED, data.get("method", "")
    elif kind == EventType.PAYMENT_FAILED:
        cart.stage = Stage.PAYMENT
        cart.signal, cart.signal_detail = StallSignal.PAYMENT_FAILED, data.get("reason", "")
    elif kind == EventType.COUPON_REJECTED:
        cart.signal, cart.signal_detail = StallSignal.COUPON_REJECTED, data["code"]
    elif kind == EventType.ORDER_COMPLETED:
        # The first order completion stands, except that the shop's signed order
        # outranks one the widget reported first (whose total may be missing or wrong).
        if (
            cart.status == CartStatus.CONVERTED
            and cart.order_id
            and (not trusted or (cart.totals_trusted and cart.order_total is not None))
        ):
            return False
        if may_set_totals:
            _check_currency(cart, data["currency"])
        if cart.converted_at is None or cart.order_id != data["order_id"]:
            cart.converted_at = occurred_at
        cart.status = CartStatus.CONVERTED
        cart.order_id = data["order_id"]
        if may_set_totals:
            cart.order_total = data["total"]
            cart.totals_trusted = trusted
    if kind != EventType.ORDER_COMPLETED and cart.status == CartStatus.STALLED:
        cart.status = CartStatus.ACTIVE  # new activity: the stall is over
    cart.state_at = max(cart.state_at, occurred_at)
    cart.last_activity_at = max(cart.last_activity_at, min(occurred_at, now))
    return True


def _check_currency(cart: Cart, currency: str) -> None:
    """Refuse an amount in another currency than the cart's (it would be mixed with it)."""
    if currency != cart.currency:
        raise CurrencyMismatch(
            f"This cart is in {cart.currency}: send amounts in {cart.currency}. "
            f"To switch the cart to {currency}, first send a cart_updated in {currency}."
        )


def _switch_currency(cart: Cart) -> None:
    """A cart_updated in another currency restates the cart in it: the shipping quote was
    in the old currency, so it is forgotten until a new one is quoted."""
    cart.shipping_fee = None
    cart.shipping_method = ""
    cart.shipping_country = ""
    if cart.signal == StallSignal.SHIPPING_QUOTED:
        cart.signal, cart.signal_detail = StallSignal.NONE, ""


def _record_opt_outs(site: Site, opted_out: dict[str, datetime]) -> None:
    # Visitors in ascending order, the lock order of cartassist.locks.
    Visitor.objects.bulk_create(
        [Visitor(site=site, external_id=visitor_id) for visitor_id in sorted(opted_out)],
        ignore_conflicts=True,
    )
    for visitor_id, at in sorted(opted_out.items()):
        Visitor.objects.filter(site=site, external_id=visitor_id, opted_out_at__isnull=True).update(
            opted_out_at=at
        )


def _json_safe(value: Any) -> Any:
    """Decimals become strings so that stored JSON keeps amounts exact."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value
