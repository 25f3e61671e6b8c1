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

import collections
import copy
import dataclasses
import functools
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection
from django.db.models import Field, Model

from cartassist.carts.locks import (
    CREATED,
    CREATED_NOW,
    ROW_VERSION,
    CartsCreatedMeanwhile,
    cart_columns,
    cart_from_row,
    cart_insert_statement,
    cart_lock_sql,
    cart_upsert_statement,
    carts_for_update_and,
    new_cart,
    preparers,
)
from cartassist.carts.models import (
    Cart,
    CartEvent,
    CartStatus,
    EventSource,
    EventType,
    Site,
    Visitor,
)
from cartassist.carts.services.contact_identities import (
    CONTACT_KINDS,
    contact_identities_record,
    shopper_email_addresses_record,
)
from cartassist.carts.services.shoppers import (
    cart_identities,
    new_cart_identity_cte,
    new_carts_identities_cte,
    shoppers_link,
    visitor_identity_stored_sql,
)
from cartassist.carts.services.site_config import site_rule_snapshots
from cartassist.core import ports
from cartassist.core.sql import PreparedStatement
from cartassist.core.transactions import (
    Ends,
    atomic_with_ends,
    bound_cursor,
    statement_is_transaction,
)
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

    1. Drop ids repeated inside the batch.
    2. Lock (creating if needed) every cart the events touch (``carts_for_update``: one
       upsert for one cart) and insert the events first-wins: ``INSERT … ON CONFLICT
       (site, event id) DO NOTHING RETURNING`` the ids stored. Any id already stored
       rolls the attempt back, and the batch is ingested again without it (rare: a
       client's retry), so a duplicate never touches a cart. A cart created here whose
       only identity is a new visitor id is linked to a shopper of its own in the same
       statement (ADR 0027).
    3. Apply the events oldest first (the few older than their cart's state are marked
       not applied). A single-cart request applies them before the statement, to the
       cart it would create, and inserts that cart so: when the statement did create
       it, nothing is left to apply or save (ADR 0028).
    4. Link each cart's visitor and customer ids to its shopper (``shoppers_link``; not
       needed when the cart is linked already and no event brings a new customer id),
       and refresh the outcomes of new orders and of shoppers that merged.
    5. Tell the consoles chatting about a changed cart (port ``carts_changed``).
    6. Save each cart's changed columns only, with its stall deadline: the last
       statement, which carries the COMMIT (the first carries the BEGIN: ADR 0027).

    Two requests carrying the same event race on the unique constraint: the second one's
    insert waits for the first to commit and then stores nothing. An event whose amount
    would apply in another currency than its cart's raises ``EventsRefused`` for the
    batch (rolled back: nothing stored).
    """
    batch = _Batch.of(events)
    one = _one_statement_event(batch)
    if one is not None:
        done = _written_cart_ingest(site, batch, one, source=source, now=now) or (
            _new_cart_ingest(site, batch, one, source=source, now=now)
        )
        if done is not None:
            return done
    stored_before: set[str] = set()
    # Each retry learns one more stored id, or finds one more cart existing (at most one
    # cart per event).
    for _attempt in range(2 * len(batch.unique) + 1):
        try:
            return _ingest_once(
                site=site, batch=batch, stored_before=stored_before, source=source, now=now
            )
        except _AlreadyStored as found:
            stored_before |= found.event_ids
        except CartsCreatedMeanwhile:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


class _AlreadyStored(Exception):
    """Some events of the attempt were stored already (rolls the attempt back)."""

    def __init__(self, event_ids: set[str]) -> None:
        super().__init__("events already stored")
        self.event_ids = event_ids


def _ingest_once(
    *,
    site: Site,
    batch: _Batch,
    stored_before: set[str],
    source: EventSource,
    now: datetime,
) -> IngestResult:
    result = IngestResult(duplicates=list(batch.repeated))
    result.duplicates.extend(event_id for event_id in batch.unique if event_id in stored_before)
    new_events = batch.new_events(already=stored_before)
    if not new_events:
        return result
    with atomic_with_ends() as ends:
        stored_now = _carts_and_events_store(
            site, new_events, batch=batch, source=source, now=now, ends=ends
        )
        carts, stored = stored_now.carts, stored_now.event_ids
        if len(stored) != len(new_events):
            raise _AlreadyStored({event["id"] for event in new_events} - stored)
        before = {cart_id: CartState.of(cart) for cart_id, cart in carts.items()}
        rows = _rows_folded(stored_now, new_events, batch=batch, source=source, now=now)
        not_applied = [row.event_id for row in rows if not row.applied]
        if not_applied:  # stored as applied above; older than their cart's state
            CartEvent.objects.filter(site=site, event_id__in=not_applied).update(applied=False)
        _record_opt_outs(site, rows)
        identities = _identities_to_link(carts, before, new_events)
        for cart_pk in stored_now.linked:  # linked by the statement that created them
            identities.pop(cart_pk, None)
        # The shopper lock, when it is needed, is held only for identity rows and the
        # carts' UPDATE, which travels with the COMMIT (ADR 0027).
        merged = shoppers_link(site_id=site.pk, carts=identities) if identities else []
        _contacts_record(site, carts, new_events, source=source, now=now)
        _ports_tell(site, rows, merged=merged)
        result.stored.extend(r.event_id for r in rows)
        update = _carts_save(
            carts,
            before,
            rules=site_rule_snapshots(site.pk),
            linked={*identities, *stored_now.linked},
        )
        if update:  # the block's last statement: it carries the COMMIT along
            ends.set_last(*update)
    if ends.outermost:  # committed: remember the versions it wrote (ADR 0031)
        _versions_remember(site, carts, ends.last_rows, upserted=stored_now.version)
    return result


def _versions_remember(
    site: Site,
    carts: dict[str, Cart],
    updated: list[tuple[Any, ...]],
    *,
    upserted: str | None,
) -> None:
    """Remember the state and version of each cart a committed ingest wrote: ``updated``,
    the (id, version) its carts' UPDATE returned (PostgreSQL); ``upserted``, the version
    a single cart's upsert wrote, when no UPDATE followed. A cart only locked and left
    as it was is not remembered (its version is not known here)."""
    if not updated:
        if upserted is not None and len(carts) == 1:
            ((cart_id, cart),) = carts.items()
            _written_remember((site.pk, cart_id), cart, upserted)
        return
    by_pk = {cart.pk: (cart_id, cart) for cart_id, cart in carts.items()}
    for pk, version in updated:
        cart_id, cart = by_pk[pk]
        _written_remember((site.pk, cart_id), cart, version)


def _rows_folded(
    stored: _Stored,
    events: list[dict[str, Any]],
    *,
    batch: _Batch,
    source: EventSource,
    now: datetime,
) -> list[_EventRow]:
    """The event rows, in ``events``' order, with the carts set to their folded states:
    the carts the statements created were stored folded already (``stored.folded``);
    the others are folded now."""
    folded = stored.folded
    if not folded:  # no cart created folded: every event is folded now (no copy of them)
        return _fold(
            stored.carts, events, batch=batch, source=source, now=now, inserted=stored.inserted
        )
    rest = [event for event in events if event["cart_id"] not in folded]
    carts = {cart_id: cart for cart_id, cart in stored.carts.items() if cart_id not in folded}
    by_id = {
        row.event_id: row
        for row in _fold(carts, rest, batch=batch, source=source, now=now, inserted=stored.inserted)
    }
    for rows in folded.values():
        by_id.update((row.event_id, row) for row in rows)
    return [by_id[event["id"]] for event in events]


def _ports_tell(site: Site, rows: list[_EventRow], *, merged: list[int]) -> None:
    """Ask for the outcomes of new orders and merged shoppers to be refreshed, and tell
    the consoles chatting about a changed cart (both act once the ingest commits)."""
    ordered = [r.cart_id for r in rows if r.type == EventType.ORDER_COMPLETED and r.applied]
    if ordered or merged:
        ports.outcomes_refresh_request.get()([*ordered, *merged])
    changed = sorted({r.cart_id for r in rows if r.applied})
    if changed:
        ports.carts_changed.get()(site_id=site.pk, cart_ids=changed)


def _contacts_record(
    site: Site,
    carts: dict[str, Cart],
    events: list[dict[str, Any]],
    *,
    source: EventSource,
    now: datetime,
) -> None:
    """The keyed hashes of the events' emails and phones (ADR 0016) and, from signed
    events only and only on a site that emails its shoppers (a sender address set), the
    deliverable address for an email to the shopper (ADR 0025)."""
    contact_identities_record(site_id=site.pk, carts=carts, events=events, now=now)
    if source == EventSource.SERVER and site.email_sender_address:
        shopper_email_addresses_record(site_id=site.pk, carts=carts, events=events, now=now)


@dataclass(frozen=True)
class _Stored:
    """What the first statements of an ingest did: the carts, locked, by cart id; the
    event ids stored now; the ids of the carts they created and linked to a shopper
    of their own (``new_cart_identity_cte``); the event rows as inserted, by event id
    (for the fold to reuse); ``folded``: for each cart the statements created with its
    events folded in already, by cart id, those events' rows (with the cart's id)."""

    carts: dict[str, Cart]
    event_ids: set[str]
    inserted: dict[str, _EventRow]
    linked: frozenset[int] = frozenset()
    folded: dict[str, list[_EventRow]] = field(default_factory=dict)
    # The one cart's row version the statement wrote (its upsert), for ADR 0031.
    version: str | None = None


def _carts_and_events_store(
    site: Site,
    events: list[dict[str, Any]],
    *,
    batch: _Batch,
    source: EventSource,
    now: datetime,
    ends: Ends,
) -> _Stored:
    """Lock (creating) the carts of ``events`` and insert the events first-wins, as
    applied (the fold corrects that).

    One cart on PostgreSQL (a single event, the usual request): one statement, a CTE of
    the cart's upsert (``carts_for_update``'s) and the events' ``INSERT … ON CONFLICT DO
    NOTHING RETURNING``; when the events bring no customer id and one visitor id, the
    same statement links a cart it creates to a shopper (``new_cart_identity_cte``). For
    a cart this process has seen, the CTE locks it instead (``_known_cart_and_events``).
    Otherwise ``carts_for_update``, then ``_events_insert``."""
    first = _first_event_per_cart(events)
    if len(first) == 1 and connection.vendor == "postgresql":
        ((cart_id, first_event),) = first.items()
        one = None
        if (site.pk, cart_id) in _known_carts:
            one = _known_cart_and_events(site, cart_id, events, source=source, now=now, ends=ends)
        if one is None:
            one = _cart_and_events_upsert(
                site, first_event, events, batch=batch, source=source, now=now, ends=ends
            )
        _carts_known(site, one.carts)
        return one
    visitors = _visitor_only_carts(events)
    on_created = None
    if visitors and connection.vendor == "postgresql":
        on_created = (
            new_carts_identities_cte(carts_cte=CREATED),
            [site.pk, list(visitors), list(visitors.values())],
        )
    folded: dict[str, list[_EventRow]] = {}

    def missing_carts_folded(missing: dict[str, dict[str, Any]]) -> list[Cart]:
        """The carts missing, with their events folded in (ADR 0029): those the insert
        creates need no UPDATE."""
        theirs = [e for e in events if e["cart_id"] in missing]
        templates = {e["id"]: _EventRow.of(site, 0, e, source, True, now=now) for e in theirs}
        carts, rows = _new_carts_folded(
            site,
            missing,
            theirs,
            templates,
            batch=batch,
            source=source,
            now=now,
            linked=visitors.keys() & missing.keys(),
        )
        folded.update(rows)
        return list(carts.values())

    locked = carts_for_update_and(
        site=site,
        first_events=first,
        now=now,
        on_created=on_created,
        new_carts=missing_carts_folded,
    )
    carts = locked.carts
    _carts_known(site, carts)
    rows = {
        e["id"]: _EventRow.of(site, carts[e["cart_id"]].pk, e, source, True, now=now)
        for e in events
    }
    stored = _events_insert(list(rows.values()))
    created_folded: dict[str, list[_EventRow]] = {}
    for cart_id in locked.created & folded.keys():
        cart = carts[cart_id]
        created_folded[cart_id] = _created_folded(
            cart, folded[cart_id], linked=cart.pk in locked.linked
        )
    return _Stored(carts, stored, rows, locked.linked, folded=created_folded)


# The carts this process has stored or locked, by (site id, cart id): a hint, bounded
# (emptied when full), that the cart exists (ADR 0030). Carts are deleted only by a
# site's deletion or the retention purge; a stale hint costs one statement that finds
# nothing, and the cart is then created as if it were not known.
KNOWN_CARTS_MAX = 20_000
_known_carts: set[tuple[int, str]] = set()


def _carts_known(site: Site, carts: dict[str, Cart]) -> None:
    if len(_known_carts) + len(carts) > KNOWN_CARTS_MAX:
        _known_carts.clear()
    _known_carts.update((site.pk, cart_id) for cart_id in carts)


def known_carts_forget(*, versions_only: bool = False) -> None:
    """Forget every cart this process has seen or written (tests: as a new process
    starts); ``versions_only``: only the versions it wrote (ADR 0031), not the carts it
    has seen (ADR 0030)."""
    if not versions_only:
        _known_carts.clear()
    _written_carts.clear()


# The state this process last wrote for a cart and the row version that holds it (the
# row's xmin: the id of the transaction that wrote it), by (site id, cart id), for a
# single event to write in one statement (ADR 0031). Bounded, the least recently written
# dropped first (the carts still active stay); an entry older than
# KNOWN_CART_STATE_SECONDS is not used, long before a transaction id can come round again.
KNOWN_CART_STATES_MAX = 10_000
KNOWN_CART_STATE_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class _Written:
    cart: Cart  # as written: never changed (the one-statement path folds into a copy)
    version: str  # the row version's xmin, as text
    at: float  # time.monotonic() when written


_written_carts: collections.OrderedDict[tuple[int, str], _Written] = collections.OrderedDict()
_written_carts_lock = threading.Lock()  # threads of one process (daphne, gthread) share it


def _written_remember(key: tuple[int, str], cart: Cart, version: str) -> None:
    with _written_carts_lock:
        _written_carts[key] = _Written(cart, version, time.monotonic())
        _written_carts.move_to_end(key)
        if len(_written_carts) > KNOWN_CART_STATES_MAX:
            _written_carts.popitem(last=False)


def _one_statement_event(batch: _Batch) -> dict[str, Any] | None:
    """The request's one event, when one autocommitted statement may store it (ADRs 0031,
    0032): PostgreSQL, outside any transaction, and nothing the statements do not write
    (an opt-out's visitor row, contact details' hashes); else None."""
    if len(batch.unique) != 1 or connection.vendor != "postgresql":
        return None
    (event,) = batch.unique.values()
    if event["type"] == EventType.OPTED_OUT or any(event.get(kind) for kind in CONTACT_KINDS):
        return None
    return event if statement_is_transaction() else None


def _written_cart_ingest(
    site: Site, batch: _Batch, event: dict[str, Any], *, source: EventSource, now: datetime
) -> IngestResult | None:
    """One event for a cart whose last write this process made, stored and applied in one
    autocommitted statement (ADR 0031), or None: the usual transaction decides.

    The event is folded into the state this process wrote; the statement locks the cart
    only if its row is still that version (``xmin``), inserts the event first-wins, and
    writes the changed columns only if the event was inserted. When the row was written
    since (by another process, the sweep, a chat), the statement changed nothing and
    read the row as it stands, with its version: the event is folded into that and sent
    once more. A second miss (the cart written again meanwhile), a cart deleted since, or
    anything this path does not write (a shopper link to make, another currency) leaves
    it to the usual transaction."""
    key = (site.pk, event["cart_id"])
    written = _written_carts.get(key)
    if written is None:
        return None
    if time.monotonic() - written.at > KNOWN_CART_STATE_SECONDS:
        _written_carts.pop(key, None)
        return None
    return _written_cart_attempts(site, batch, event, written, source=source, now=now)


def _written_cart_attempts(
    site: Site,
    batch: _Batch,
    event: dict[str, Any],
    written: _Written,
    *,
    source: EventSource,
    now: datetime,
) -> IngestResult | None:
    """``_written_cart_write`` against ``written``, then once more against the version
    its statement read, should the row have been written since; None after a second miss
    or when the usual transaction must decide."""
    for _attempt in range(2):  # the version given, then the one the statement read
        outcome = _written_cart_write(site, batch, event, written, source=source, now=now)
        if not isinstance(outcome, _Written):
            return outcome
        written = outcome
    _written_carts.pop((site.pk, event["cart_id"]), None)
    return None


def _written_cart_write(
    site: Site,
    batch: _Batch,
    event: dict[str, Any],
    written: _Written,
    *,
    source: EventSource,
    now: datetime,
) -> IngestResult | _Written | None:
    """``_written_cart_statement`` for ``event`` folded into ``written``: the result; or,
    the row being another version now, that version as read (nothing was written); or
    None (the usual transaction decides: nothing was sent, or the cart is gone)."""
    event_id, cart_id = event["id"], event["cart_id"]
    key = (site.pk, cart_id)
    cart = copy.copy(written.cart)
    before = CartState.of(cart)
    template = _EventRow.of(site, cart.pk, event, source, True, now=now)
    try:
        (row,) = _fold(
            {cart_id: cart},
            [event],
            batch=batch,
            source=source,
            now=now,
            inserted={event_id: template},
        )
    except EventsRefused:
        return None
    if _identities_to_link({cart_id: cart}, {cart_id: before}, [event]):
        return None
    cart.stall_deadline = _stall_deadline_of(cart, site_rule_snapshots(site.pk))
    names = _changed_columns(
        cart, before, stall_deadline=written.cart.stall_deadline, linked=cart.identities_linked
    )
    fields = tuple(_field(Cart, name) for name in names)
    values = [
        prepare(getattr(cart, f.attname))
        for f, prepare in zip(fields, preparers(fields), strict=True)
    ]
    params = [cart.pk, written.version, *_cte_event_params({event_id: row}), *values, cart.pk]
    with connection.cursor() as cursor:
        cursor.execute(*_written_cart_statement(fields).call(params))
        ((found, stored, version, *current),) = cursor.fetchall()
    if not found:  # nothing was written: the row as it stands, if the cart still exists
        if current[0] is None:
            _written_carts.pop(key, None)
            return None
        return _Written(cart_from_row(current[:-1]), current[-1], time.monotonic())
    result = IngestResult(duplicates=list(batch.repeated))
    if not stored:
        result.duplicates.append(event_id)
        return result
    _written_remember(key, cart, version or written.version)  # None: nothing to write
    _ports_tell(site, [row], merged=[])
    result.stored.append(event_id)
    return result


@functools.lru_cache(maxsize=256)
def _written_cart_statement(fields: tuple[Field[Any, Any], ...]) -> PreparedStatement:
    """``c``: the cart, locked, if its row is the version given; ``e``: the event's
    insert from ``c``, first-wins; ``u``: the cart's changed ``fields``, written if ``e``
    stored the event (no ``u`` when no column changed). One row: whether ``c`` found the
    cart, the event ids stored, the version ``u`` wrote (NULL if none), and, when ``c``
    found nothing, the cart's row as it stands (every column, then its version; NULLs
    when the cart is gone). Parameters: the cart's id, its version, the event's columns
    (``_cte_event_fields``), the values of ``fields``, the cart's id again. One set of
    changed columns per event type in practice, each prepared once per session."""
    quote = connection.ops.quote_name
    table, id_ = quote(Cart._meta.db_table), quote("id")
    sets = ", ".join(f"{quote(str(f.column))} = %s" for f in fields)
    # No column changed (an event older than the cart's state): no ``u``, no new version.
    update = (
        f", u AS (UPDATE {table} AS t SET {sets} FROM c "  # noqa: S608
        f"WHERE t.{id_} = c.{id_} AND EXISTS (SELECT FROM e) "
        f"RETURNING CAST(t.xmin AS text) AS version)"
        if fields
        else ""
    )
    version = "(SELECT version FROM u)" if fields else "NULL"
    # Identifiers from the model's metadata; every value is a parameter.
    sql = (
        f"WITH c AS (SELECT {id_} FROM {table} "  # noqa: S608
        f"WHERE {id_} = %s AND xmin = CAST(%s AS xid) FOR NO KEY UPDATE), "
        f"e AS ({_cte_events_insert_sql(1)}){update} "
        f"SELECT EXISTS (SELECT FROM c), ARRAY(SELECT {quote('event_id')} FROM e), {version}, "
        f"r.* FROM (VALUES (1)) AS one (x) LEFT JOIN (SELECT {cart_columns()}, CAST(xmin AS text) "
        f"FROM {table} WHERE {id_} = %s AND NOT EXISTS (SELECT FROM c)) AS r ON true"
    )
    return PreparedStatement.of("cartassist_ingest_written", sql)


def _new_cart_ingest(
    site: Site, batch: _Batch, event: dict[str, Any], *, source: EventSource, now: datetime
) -> IngestResult | None:
    """The first event this process sees for a cart, in one autocommitted statement
    (ADR 0032), or None: the usual transaction decides.

    The event is folded into the cart it creates (ADR 0028), linked to a shopper of its
    own (ADR 0027). ``_new_cart_statement`` inserts that cart, its event and its visitor's
    identity, unless the event id or the visitor's identity is stored already or the cart
    exists; then it inserts nothing and reads the cart as it stands, with its version,
    and the event goes to ADR 0031's statement against that version: two statements, as
    many round trips as the usual transaction. A concurrent insert of the same event id
    or identity fails the statement (a unique violation: nothing of it is stored), and
    the usual transaction decides, as it does when the cart is not there to read (created
    by a transaction the statement did not see, or the event or identity is stored)."""
    event_id, cart_id, visitor_id = event["id"], event["cart_id"], event["visitor_id"]
    key = (site.pk, cart_id)
    # A customer id links under the shopper lock; a cart seen here exists (ADR 0030).
    if event.get("customer_id") or key in _known_carts:
        return None
    template = _EventRow.of(site, 0, event, source, True, now=now)
    carts, folded = _new_carts_folded(
        site,
        {cart_id: event},
        [event],
        {event_id: template},
        batch=batch,
        source=source,
        now=now,
        linked={cart_id},
    )
    if cart_id not in folded:  # refused by the fold: the usual transaction says why
        return None
    cart, (row,) = carts[cart_id], folded[cart_id]
    cart_sql, params = cart_insert_statement(cart, where=_new_cart_condition())
    params += [site.pk, event_id, site.pk, visitor_id]
    params += _cte_event_params({event_id: row})
    params += [site.pk, visitor_id, site.pk, cart_id]
    try:
        with connection.cursor() as cursor:
            cursor.execute(*_new_cart_statement(cart_sql).call(params))
            ((pk, version, *current),) = cursor.fetchall()
    except IntegrityError:  # the event id or the identity stored meanwhile: nothing stored
        return None
    if pk is None:  # nothing inserted: the cart as it stands, if it exists
        if current[0] is None:
            return None
        _known_carts.add(key)
        stood = _Written(cart_from_row(current[:-1]), current[-1], time.monotonic())
        return _written_cart_attempts(site, batch, event, stood, source=source, now=now)
    cart.pk = pk
    cart._state.adding, cart._state.db = False, connection.alias
    _carts_known(site, {cart_id: cart})
    _written_remember(key, cart, version)
    _ports_tell(site, [dataclasses.replace(row, cart_id=pk)], merged=[])
    return IngestResult(stored=[event_id], duplicates=list(batch.repeated))


@functools.cache
def _new_cart_condition() -> str:
    """Where ``_new_cart_statement`` inserts the cart (parameters: site id, event id, site
    id, visitor id): the event id is not stored, nor the visitor's identity (a returning
    visitor's new cart joins that visitor's shopper under the shopper lock)."""
    quote = connection.ops.quote_name
    # Identifiers from the model's metadata; values are parameters.
    return (
        f"NOT EXISTS (SELECT FROM {quote(CartEvent._meta.db_table)} "  # noqa: S608
        f"WHERE {quote('site_id')} = CAST(%s AS bigint) "
        f"AND {quote('event_id')} = CAST(%s AS varchar)) "
        f"AND NOT {visitor_identity_stored_sql()}"
    )


@functools.cache
def _new_cart_statement(cart_sql: str) -> PreparedStatement:
    """``c``: the cart's insert (``cart_insert_statement``, where ``_new_cart_condition``
    holds); ``e``: its event's insert; ``s``: its visitor identity's, naming the cart's
    id as its shopper. ``e`` and ``s`` insert only with ``c``, and have no ``ON
    CONFLICT``: an id stored meanwhile fails the statement. One row: the id and version
    ``c`` wrote (NULLs if it inserted nothing); then, when it inserted nothing, the cart's
    row as it stands (every column, then its version; NULLs when there is no such cart).
    Parameters: the cart's values, the condition's, the event's columns
    (``_cte_event_fields``), the site's id and the visitor id (``s``), the site's id and
    the cart id (the row read). Prepared once per session."""
    quote = connection.ops.quote_name
    table, id_ = quote(Cart._meta.db_table), quote("id")
    link = new_cart_identity_cte(cart_cte="c", created=CREATED_NOW, first_wins=False)
    # Identifiers from the model's metadata; every value is a parameter.
    sql = (
        f"WITH c AS ({cart_sql}), e AS ({_cte_events_insert_sql(1, first_wins=False)}), "  # noqa: S608
        f"s AS ({link}) "
        f"SELECT c.{id_}, c.{ROW_VERSION}, r.* FROM (VALUES (1)) AS one (x) "
        f"LEFT JOIN c ON true LEFT JOIN (SELECT {cart_columns()}, CAST(xmin AS text) "
        f"FROM {table} WHERE {quote('site_id')} = CAST(%s AS bigint) "
        f"AND {quote('external_id')} = CAST(%s AS varchar) AND NOT EXISTS (SELECT FROM c)) "
        f"AS r ON true"
    )
    return PreparedStatement.of("cartassist_ingest_new", sql)


def _known_cart_and_events(
    site: Site,
    cart_id: str,
    events: list[dict[str, Any]],
    *,
    source: EventSource,
    now: datetime,
    ends: Ends,
) -> _Stored | None:
    """For a cart this process has seen (``_known_carts``), ``_cte_statement`` over the
    cart's lock instead of its upsert: no cart to make from the events and send along (a
    steady cart, the usual event, exists), and no new row version for the lock. None when
    the cart is gone (deleted since): the statement inserted nothing, and the caller sends
    the upsert in the same transaction."""
    inserted = {e["id"]: _EventRow.of(site, 0, e, source, True, now=now) for e in events}
    params: list[Any] = [site.pk, cart_id, *_cte_event_params(inserted)]
    # The transaction's first statement: it carries the BEGIN along (ADR 0027).
    rows = ends.first(*_cte_statement(cart_lock_sql(), len(events), False).call(params))
    if not rows:
        _known_carts.discard((site.pk, cart_id))
        return None
    ((*columns, stored, _linked),) = rows
    cart = cart_from_row(columns)
    return _Stored({cart_id: cart}, set(stored), inserted)


def _visitor_only_carts(events: list[dict[str, Any]]) -> dict[str, str]:
    """Cart id → visitor id, for each cart whose events all bring that one visitor id and
    no customer id: the cart's only identity, should these events create it."""
    visitors: dict[str, str] = {}
    mixed: set[str] = set()
    for event in events:
        cart_id, visitor_id = event["cart_id"], event["visitor_id"]
        if event.get("customer_id") or visitors.setdefault(cart_id, visitor_id) != visitor_id:
            mixed.add(cart_id)
    return {cart_id: visitor for cart_id, visitor in visitors.items() if cart_id not in mixed}


def _cart_and_events_upsert(
    site: Site,
    first: dict[str, Any],
    events: list[dict[str, Any]],
    *,
    batch: _Batch,
    source: EventSource,
    now: datetime,
    ends: Ends,
) -> _Stored:
    """The one statement of ``_cte_statement``. The cart it inserts, should the cart not
    exist yet, is the one the events make of a new cart (``_new_cart_folded``): a cart
    created now needs no UPDATE, and its transaction ends with a bare COMMIT (ADR 0028).
    A cart that existed is returned as it stands, for the fold."""
    # The cart's only identity is this visitor id, if it gets created now.
    visitor_only = bool(_visitor_only_carts(events))
    # The rows the CTE inserts (their cart: the CTE's, 0 here), as applied.
    inserted = {e["id"]: _EventRow.of(site, 0, e, source, True, now=now) for e in events}
    cart_id = first["cart_id"]
    guesses, folded = _new_carts_folded(
        site,
        {cart_id: first},
        events,
        inserted,
        batch=batch,
        source=source,
        now=now,
        linked={cart_id} if visitor_only else set(),
    )
    cart_sql, params = cart_upsert_statement(guesses[cart_id], created_now=True)
    params += _cte_event_params(inserted)
    if visitor_only:
        params += [site.pk, first["visitor_id"]]
    # The transaction's first statement: it carries the BEGIN along (ADR 0027).
    statement = _cte_statement(cart_sql, len(events), visitor_only)
    (row,) = ends.first(*statement.call(params))
    cart = cart_from_row(row)
    created_now, version, stored, linked_now = row[-4:]
    linked = frozenset([cart.pk]) if linked_now else frozenset[int]()
    if not (created_now and cart_id in folded):
        return _Stored({cart.external_id: cart}, set(stored), inserted, linked, version=version)
    rows = _created_folded(cart, folded[cart_id], linked=bool(linked_now))
    return _Stored(
        {cart_id: cart}, set(stored), inserted, linked, folded={cart_id: rows}, version=version
    )


def _created_folded(cart: Cart, rows: list[_EventRow], *, linked: bool) -> list[_EventRow]:
    """For a cart a statement created with its events folded in: its rows with its id;
    not linked by the statement (the visitor's identity was known), it is marked so, and
    ``shoppers_link`` links it."""
    if not linked:
        cart.identities_linked = False
    return [dataclasses.replace(row, cart_id=cart.pk) for row in rows]


def _new_carts_folded(
    site: Site,
    first: dict[str, dict[str, Any]],
    events: list[dict[str, Any]],
    inserted: dict[str, _EventRow],
    *,
    batch: _Batch,
    source: EventSource,
    now: datetime,
    linked: set[str],
) -> tuple[dict[str, Cart], dict[str, list[_EventRow]]]:
    """The carts ``events`` create should they not exist yet (``new_cart`` from each
    one's first event), by cart id, with the events folded in, their stall deadlines set
    and (``linked``: the cart ids the statement links to a shopper) marked linked; and
    each cart's event rows (their cart id left to fill in). Where the fold refuses the
    batch (another currency), the carts as their first events create them and no rows:
    the fold after the statement decides, as for any cart."""
    carts = {cart_id: new_cart(site, event, now) for cart_id, event in first.items()}
    try:
        rows = _fold(carts, events, batch=batch, source=source, now=now, inserted=inserted)
    except EventsRefused:
        return {cart_id: new_cart(site, event, now) for cart_id, event in first.items()}, {}
    rules = site_rule_snapshots(site.pk)
    by_cart: dict[str, list[_EventRow]] = {cart_id: [] for cart_id in carts}
    for event, row in zip(events, rows, strict=True):
        by_cart[event["cart_id"]].append(row)
    for cart_id, cart in carts.items():
        cart.stall_deadline = _stall_deadline_of(cart, rules)
        cart.identities_linked = cart_id in linked
    return carts, by_cart


@functools.cache
def _cte_event_fields() -> list[tuple[str, Field[Any, Any]]]:
    """The event columns the CTE inserts from parameters (the cart id comes from the CTE)."""
    return [(attr, _field(CartEvent, name)) for attr, name in _EVENT_COLUMNS if attr != "cart_id"]


def _cte_event_params(inserted: dict[str, _EventRow]) -> list[Any]:
    """The parameters of ``_cte_statement``'s event rows, in ``_cte_event_fields`` order."""
    fields = _cte_event_fields()
    prepared = list(zip(fields, preparers(tuple(f for _attr, f in fields)), strict=True))
    params: list[Any] = []
    for event_row in inserted.values():
        params += [prepare(getattr(event_row, attr)) for (attr, _f), prepare in prepared]
    return params


@functools.cache
def _cte_statement(cart_sql: str, events: int, link_new_cart: bool) -> PreparedStatement:
    """The cart's upsert ``c`` (or its lock, for a cart this process has seen:
    ``_known_cart_and_events``), its events' insert ``e`` and (``link_new_cart``) its
    visitor identity's ``s``; one row: the cart's columns (the upsert's with
    ``CREATED_NOW`` and ``ROW_VERSION``), the event ids stored, whether ``s`` linked the
    cart; no row when
    the lock found no cart. Prepared once per session: planning it took
    about 40 % of its server time (ADR 0028)."""
    quote = connection.ops.quote_name
    link = (
        f", s AS ({new_cart_identity_cte(cart_cte='c', created=CREATED_NOW)})"
        if link_new_cart
        else ""
    )
    linked = "EXISTS (SELECT FROM s)" if link_new_cart else "false"
    # Identifiers from the model's metadata; every value is a parameter.
    sql = (
        f"WITH c AS ({cart_sql}), e AS ({_cte_events_insert_sql(events)}){link} "  # noqa: S608
        f"SELECT c.*, ARRAY(SELECT {quote('event_id')} FROM e), {linked} FROM c"
    )
    return PreparedStatement.of("cartassist_ingest_cart", sql)


def _cte_events_insert_sql(events: int, *, first_wins: bool = True) -> str:
    """The insert of ``events`` event rows into the cart of a CTE named ``c``, first-wins,
    ``RETURNING`` the event ids stored; parameters: ``_cte_event_params``'. ``first_wins``
    false: no ``ON CONFLICT``, so an id stored meanwhile fails the whole statement."""
    quote = connection.ops.quote_name
    fields = _cte_event_fields()
    one = "(" + ", ".join(f"CAST(%s AS {f.db_type(connection)})" for _attr, f in fields) + ")"
    names = ", ".join(quote(str(f.column)) for _attr, f in fields)
    # Identifiers from the model's metadata; every value is a parameter.
    return (
        f"INSERT INTO {quote(CartEvent._meta.db_table)} ({quote('cart_id')}, {names}) "  # noqa: S608
        f"SELECT c.{quote('id')}, v.* FROM c CROSS JOIN "
        f"(VALUES {', '.join([one] * events)}) AS v ({names}) "
        + (
            f"ON CONFLICT ({quote('site_id')}, {quote('event_id')}) DO NOTHING "
            if first_wins
            else ""
        )
        + f"RETURNING {quote('event_id')}"
    )


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
    carts: dict[str, Cart],
    events: list[dict[str, Any]],
    *,
    batch: _Batch,
    source: EventSource,
    now: datetime,
    inserted: dict[str, _EventRow],
) -> list[_EventRow]:
    """Fold ``events`` (oldest first) into their carts' states and set the carts to them;
    the event rows to store, ``inserted``'s (as inserted, applied) where they hold.
    Raises ``EventsRefused`` naming every refused event."""
    trusted = source == EventSource.SERVER
    states: dict[str, CartState] = {}
    rows: list[_EventRow] = []
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
        row, cart_pk = inserted[event["id"]], carts[cart_id].pk
        if (row.cart_id, row.applied) != (cart_pk, folded.applied):
            row = dataclasses.replace(row, cart_id=cart_pk, applied=folded.applied)
        rows.append(row)
    if refused:
        raise EventsRefused(refused)  # rolls the whole batch back
    for cart_id, state in states.items():
        for name in CART_STATE_FIELDS:
            setattr(carts[cart_id], name, getattr(state, name))
    return rows


@dataclass(frozen=True, slots=True)
class _EventRow:
    """One ``CartEvent`` row to insert (plain values: no model instance per event)."""

    site_id: int
    cart_id: int
    event_id: str
    type: str
    source: str
    visitor_id: str
    customer_id: str
    occurred_at: datetime
    received_at: datetime
    applied: bool
    data: Any

    @classmethod
    def of(
        cls,
        site: Site,
        cart_id: int,
        event: dict[str, Any],
        source: EventSource,
        applied: bool,
        *,
        now: datetime,
    ) -> _EventRow:
        return cls(
            site_id=site.pk,
            cart_id=cart_id,
            event_id=event["id"],
            type=event["type"],
            source=EventSource(source).value,  # plain text for the driver
            visitor_id=event["visitor_id"],
            customer_id=event.get("customer_id", ""),
            occurred_at=event["occurred_at"],
            received_at=now,
            applied=applied,
            data=exact_json(event["data"]),
        )


_EVENT_COLUMNS = (
    ("site_id", "site"),
    ("cart_id", "cart"),
    ("event_id", "event_id"),
    ("type", "type"),
    ("source", "source"),
    ("visitor_id", "visitor_id"),
    ("customer_id", "customer_id"),
    ("occurred_at", "occurred_at"),
    ("received_at", "received_at"),
    ("applied", "applied"),
    ("data", "data"),
)


def _events_insert(rows: list[_EventRow]) -> set[str]:
    """Insert ``rows`` first-wins on the (site, event id) key; the ids stored now.

    ``INSERT … ON CONFLICT DO NOTHING RETURNING event_id``: an id another transaction
    holds uncommitted waits for it, then counts as stored before (not returned)."""
    fields = _event_fields()
    prepared = list(zip(fields, preparers(tuple(f for _attr, f in fields)), strict=True))
    if connection.vendor == "postgresql":  # one short statement, one array per column
        columns = [
            [prepare(getattr(row, attr)) for row in rows] for (attr, _f), prepare in prepared
        ]
        with bound_cursor() as cursor:
            cursor.execute(_events_unnest_sql(), columns)
            return {event_id for (event_id,) in cursor.fetchall()}
    per_statement = max(1, (connection.features.max_query_params or 65535) // len(fields))
    stored: set[str] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params: list[Any] = []
            for row in chunk:
                params += [prepare(getattr(row, attr)) for (attr, _f), prepare in prepared]
            cursor.execute(_events_insert_sql(connection.vendor, len(chunk)), params)
            stored.update(event_id for (event_id,) in cursor.fetchall())
    return stored


@functools.cache
def _event_fields() -> list[tuple[str, Field[Any, Any]]]:
    return [(attr, _field(CartEvent, name)) for attr, name in _EVENT_COLUMNS]


@functools.cache
def _events_unnest_sql() -> str:
    """PostgreSQL: ``INSERT … SELECT * FROM unnest(<one array per column>)``. The text
    does not grow with the batch, so the driver parses and caches it once, where a
    ``VALUES`` list of 50 rows has 550 placeholders to split on every call."""
    quote = connection.ops.quote_name
    fields = _event_fields()
    columns = ", ".join(quote(str(f.column)) for _attr, f in fields)
    arrays = ", ".join(f"CAST(%b AS {f.db_type(connection)}[])" for _attr, f in fields)
    # Identifiers from the model's metadata; every value is a parameter.
    return (
        f"INSERT INTO {quote(CartEvent._meta.db_table)} ({columns}) "  # noqa: S608
        f"SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({quote('site_id')}, {quote('event_id')}) DO NOTHING "
        f"RETURNING {quote('event_id')}"
    )


@functools.cache
def _events_insert_sql(vendor: str, rows: int) -> str:
    quote = connection.ops.quote_name
    fields = _event_fields()
    columns = ", ".join(quote(str(f.column)) for _attr, f in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # Identifiers from the model's metadata; every value is a parameter.
    return (
        f"INSERT INTO {quote(CartEvent._meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES {', '.join([one] * rows)} "
        f"ON CONFLICT ({quote('site_id')}, {quote('event_id')}) DO NOTHING "
        f"RETURNING {quote('event_id')}"
    )


def _carts_save(
    carts: dict[str, Cart],
    before: dict[str, CartState],
    *,
    rules: dict[str, RuleSnapshot],
    linked: set[int],
) -> tuple[str, Sequence[Any]] | None:
    """Each cart's changed columns, with its stall deadline for its new state (none once
    converted); ``linked``: the carts whose identities this ingest links. The statement
    that writes them (SQL, parameters) for the caller to run last, or ``None`` when no
    cart changed or it ran here already (SQLite, several carts: ``executemany``)."""
    changed: dict[str, list[str]] = {}
    for cart_id, cart in carts.items():
        stall_deadline, was_linked = cart.stall_deadline, cart.identities_linked
        cart.stall_deadline = _stall_deadline_of(cart, rules)
        cart.identities_linked = cart.identities_linked or cart.pk in linked
        names = _changed_columns(
            cart, before[cart_id], stall_deadline=stall_deadline, linked=was_linked
        )
        if names:
            changed[cart_id] = names
    if not changed:
        return None
    names = sorted({name for fields in changed.values() for name in fields})
    fields = [_field(Cart, name) for name in names]
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(str(f.column))} = %s" for f in fields)
    # Identifiers from the model's metadata; every value is a parameter.
    sql = f"UPDATE {quote(Cart._meta.db_table)} SET {sets} WHERE {quote('id')} = %s"  # noqa: S608
    prepared = list(zip(fields, preparers(tuple(fields)), strict=True))
    params = [
        [prepare(getattr(carts[cart_id], f.attname)) for f, prepare in prepared]
        + [carts[cart_id].pk]
        for cart_id in sorted(changed, key=lambda c: carts[c].pk)
    ]
    if len(params) == 1:
        if connection.vendor == "postgresql":  # the version it writes (ADR 0031)
            sql += f" RETURNING {quote('id')}, CAST(xmin AS text)"
        return _prepared_update(sql).call(params[0])
    if connection.vendor == "postgresql":  # one statement for every cart
        return _carts_update_from_values(fields, params)
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
    return None


def _changed_columns(
    cart: Cart, before: CartState, *, stall_deadline: datetime | None, linked: bool
) -> list[str]:
    """The cart's columns that differ from its state ``before``, its ``stall_deadline``
    and its ``linked`` flag before."""
    names = [name for name in CART_STATE_FIELDS if getattr(before, name) != getattr(cart, name)]
    if cart.stall_deadline != stall_deadline:
        names.append("stall_deadline")
    if cart.identities_linked != linked:
        names.append("identities_linked")
    return names


def _stall_deadline_of(cart: Cart, rules: dict[str, RuleSnapshot]) -> datetime | None:
    """When ``cart`` stalls in its state under the site's ``rules`` (none once converted)."""
    if cart.status == CartStatus.CONVERTED:
        return None
    return stall_deadline(
        stage=cart.stage,
        subtotal=cart.subtotal,
        last_activity_at=cart.last_activity_at,
        rule=rules.get(cart.stage),
    )


def _carts_update_from_values(
    fields: list[Field[Any, Any]], params: list[list[Any]]
) -> tuple[str, Sequence[Any]]:
    """``UPDATE cart SET … FROM unnest(<one array per column>)``: several carts' rows in
    one statement whose text depends on the columns changed, not on the carts; it returns
    each cart's id and the version it wrote (ADR 0031)."""
    quote = connection.ops.quote_name
    names = [quote(str(f.column)) for f in fields]
    arrays = [f"CAST(%s AS {f.db_type(connection)}[])" for f in fields] + ["CAST(%s AS bigint[])"]
    sets = ", ".join(f"{name} = v.{name}" for name in names)
    id_ = quote("id")
    # Identifiers from the model's metadata; every value is a parameter.
    sql = (
        f"UPDATE {quote(Cart._meta.db_table)} AS t SET {sets} "  # noqa: S608
        f"FROM unnest({', '.join(arrays)}) AS v ({', '.join(names)}, {id_}) "
        f"WHERE t.{id_} = v.{id_} RETURNING t.{id_}, CAST(t.xmin AS text)"
    )
    return _prepared_update(sql).call([list(column) for column in zip(*params, strict=True)])


@functools.lru_cache(maxsize=256)
def _prepared_update(sql: str) -> PreparedStatement:
    """The carts' UPDATE for one set of changed columns, prepared once per session (a
    handful of column sets in practice: each event type changes its own few)."""
    return PreparedStatement.of("cartassist_ingest_carts", sql)


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    found = model._meta.get_field(name)
    assert isinstance(found, Field)
    return found


def _identities_to_link(
    carts: dict[str, Cart], before: dict[str, CartState], events: Iterable[dict[str, Any]]
) -> dict[int, set[IdentityKey]]:
    """Each touched cart's visitor id and every customer id its events gave it; none for a
    cart linked already (``identities_linked``) whose events bring no other customer id
    (links are never undone, so that cart's shopper is still the same)."""
    identities: dict[int, set[IdentityKey]] = {}
    for event in events:
        cart = carts[event["cart_id"]]
        keys = identities.setdefault(
            cart.pk,
            cart_identities(visitor_id=cart.visitor_id, customer_ids=[cart.customer_id]),
        )
        keys |= cart_identities(visitor_id="", customer_ids=[event.get("customer_id", "")])
    for cart_id, cart in carts.items():
        if cart.identities_linked and cart.pk in identities:
            known = cart_identities(
                visitor_id=cart.visitor_id, customer_ids=[before[cart_id].customer_id]
            )
            if identities[cart.pk] <= known:
                del identities[cart.pk]
    return identities


def _first_event_per_cart(events: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    first: dict[str, dict[str, Any]] = {}
    for event in events:
        first.setdefault(event["cart_id"], event)
    return first


def _record_opt_outs(site: Site, rows: list[_EventRow]) -> None:
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
