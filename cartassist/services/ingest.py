"""Cart event ingestion: store each event once, fold it into cart state, set the deadline.

docs/ARCHITECTURE.md, "Track". House rules that matter here:
- an event id is stored once per site (unique constraint + the cart row lock);
- an event older than the cart's state is logged but does not roll the state back;
- totals from a server-signed event outrank totals reported by the widget.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

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

    Two requests carrying the same event race on the unique constraint; the loser
    retries once and then sees the event as a duplicate.
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
    for event in events:
        if event["id"] in unique:
            result.duplicates.append(event["id"])
        else:
            unique[event["id"]] = event

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
        for event in new_events:
            cart = carts[event["cart_id"]]
            applied = _apply(cart, event, source=source, now=now)
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
        ordered = [r.cart_id for r in rows if r.type == EventType.ORDER_COMPLETED and r.applied]
        if ordered:
            from cartassist.tasks import outcomes_refresh_on_commit

            outcomes_refresh_on_commit(ordered)
        if opted_out:
            _record_opt_outs(site, opted_out)
    return result


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
