"""Cart event ingestion: store each event once, fold it into cart state, set the deadline.

docs/ARCHITECTURE.md, "Track". An event id is stored once per site (unique constraint +
the cart row lock). Each cart is loaded into a ``CartState``, the batch's events are
folded into it oldest first, and it is written back with its stall deadline. The rules of
the fold (domain/cart_state.py, pure): an event older than the cart's state is logged but
does not roll the state back (ADR 0002); totals from a server-signed event outrank totals
reported by the widget; an amount applies to a cart only in the cart's currency (ADR 0010),
and an event whose amount would apply in another refuses the whole batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from cartassist.carts.locks import carts_for_update
from cartassist.carts.models import (
    Cart,
    CartEvent,
    CartStatus,
    EventSource,
    EventType,
    Site,
    StallRule,
    Visitor,
)
from cartassist.carts.services.contact_identities import contact_identities_record
from cartassist.carts.services.shoppers import cart_identities, shoppers_link
from cartassist.core import ports
from cartassist.domain.attribution import IdentityKey
from cartassist.domain.cart_state import (
    CART_STATE_FIELDS,
    CartState,
    CurrencyMismatch,
    IncomingEvent,
    apply_event,
    exact_json,
)
from cartassist.domain.stalls import RuleSnapshot, stall_deadline


class EventsRefused(Exception):
    """The batch is refused as a whole and nothing of it is stored.

    ``errors`` maps the index of each refused event in the request's ``events`` list to
    its field errors, in the API's error shape (docs/API.md, "Errors").
    """

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__("events refused")
        self.errors = errors


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
    5. Tell the consoles chatting about a changed cart (port ``carts_changed``).

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
    batch = _Batch.of(events)
    result = IngestResult(duplicates=list(batch.repeated))
    with transaction.atomic():
        already = set(
            CartEvent.objects.filter(site=site, event_id__in=list(batch.unique)).values_list(
                "event_id", flat=True
            )
        )
        result.duplicates.extend(event_id for event_id in batch.unique if event_id in already)
        new_events = batch.new_events(already=already)
        if not new_events:
            return result

        carts = carts_for_update(site=site, first_events=_first_event_per_cart(new_events), now=now)
        rows = _fold(site, carts, new_events, batch=batch, source=source, now=now)
        _carts_save(carts.values(), rules=_rule_snapshots(site))
        CartEvent.objects.bulk_create(rows)
        _record_opt_outs(site, rows)
        # Last, so that the shopper lock, when it is needed, is held only for identity rows.
        merged = shoppers_link(site_id=site.pk, carts=_cart_identities(carts, new_events))
        contact_identities_record(site_id=site.pk, carts=carts, events=new_events, now=now)
        ordered = [r.cart_id for r in rows if r.type == EventType.ORDER_COMPLETED and r.applied]
        if ordered or merged:
            ports.outcomes_refresh_request.get()([*ordered, *merged])
        changed = sorted({r.cart_id for r in rows if r.applied})
        if changed:
            ports.carts_changed.get()(site_id=site.pk, cart_ids=changed)
        result.stored.extend(r.event_id for r in rows)
    return result


@dataclass(frozen=True)
class _Batch:
    """A request's events with the ids repeated inside it set aside."""

    unique: dict[str, dict[str, Any]]  # event id → its first event
    index_of: dict[str, int]  # event id → its position in the request (for field errors)
    repeated: list[str]

    @classmethod
    def of(cls, events: list[dict[str, Any]]) -> _Batch:
        unique: dict[str, dict[str, Any]] = {}
        index_of: dict[str, int] = {}
        repeated: list[str] = []
        for index, event in enumerate(events):
            if event["id"] in unique:
                repeated.append(event["id"])
            else:
                unique[event["id"]] = event
                index_of[event["id"]] = index
        return cls(unique=unique, index_of=index_of, repeated=repeated)

    def new_events(self, *, already: set[str]) -> list[dict[str, Any]]:
        """The events whose ids are not ``already`` stored, oldest first."""
        return sorted(
            (e for e in self.unique.values() if e["id"] not in already),
            key=lambda e: e["occurred_at"],
        )


def _fold(
    site: Site,
    carts: dict[str, Cart],
    events: list[dict[str, Any]],
    *,
    batch: _Batch,
    source: EventSource,
    now: datetime,
) -> list[CartEvent]:
    """Fold ``events`` (oldest first) into their carts' states and set the carts to them;
    the event rows to store. Raises ``EventsRefused`` naming every refused event."""
    trusted = source == EventSource.SERVER
    states: dict[str, CartState] = {}
    rows: list[CartEvent] = []
    refused: dict[str, Any] = {}
    for event in events:
        cart_id = event["cart_id"]
        state = states.get(cart_id) or CartState.of(carts[cart_id])
        try:
            folded = apply_event(state, IncomingEvent.of(event), trusted=trusted, now=now)
        except CurrencyMismatch as mismatch:
            refused[str(batch.index_of[event["id"]])] = {"data": {"currency": [mismatch.message]}}
            continue
        states[cart_id] = folded.state
        rows.append(_event_row(site, carts[cart_id], event, source, folded.applied, now=now))
    if refused:
        raise EventsRefused(refused)  # rolls the whole batch back
    for cart_id, state in states.items():
        for name in CART_STATE_FIELDS:
            setattr(carts[cart_id], name, getattr(state, name))
    return rows


def _event_row(
    site: Site,
    cart: Cart,
    event: dict[str, Any],
    source: EventSource,
    applied: bool,
    *,
    now: datetime,
) -> CartEvent:
    return CartEvent(
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
        data=exact_json(event["data"]),
    )


def _carts_save(carts: Iterable[Cart], *, rules: dict[str, RuleSnapshot]) -> None:
    """Save each cart with its stall deadline for its new state (none once converted)."""
    for cart in carts:
        cart.stall_deadline = (
            stall_deadline(
                stage=cart.stage,
                subtotal=cart.subtotal,
                last_activity_at=cart.last_activity_at,
                rule=rules.get(cart.stage),
            )
            if cart.status != CartStatus.CONVERTED
            else None
        )
        cart.save()


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


def _record_opt_outs(site: Site, rows: list[CartEvent]) -> None:
    """Each visitor who opted out in this batch, as of their latest opt-out event (the
    first opt-out time stored stands). Visitors in ascending order, the lock order of
    cartassist.core.locks."""
    opted_out = {r.visitor_id: r.occurred_at for r in rows if r.type == EventType.OPTED_OUT}
    if not opted_out:
        return
    Visitor.objects.bulk_create(
        [Visitor(site=site, external_id=visitor_id) for visitor_id in sorted(opted_out)],
        ignore_conflicts=True,
    )
    for visitor_id, at in sorted(opted_out.items()):
        Visitor.objects.filter(site=site, external_id=visitor_id, opted_out_at__isnull=True).update(
            opted_out_at=at
        )
