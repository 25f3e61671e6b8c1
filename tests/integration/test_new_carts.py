"""A single event for a cart this process has not seen (ADR 0032): one autocommitted
statement inserts the cart its event makes, the event and the visitor's identity, unless
the event id or the identity is stored already or the cart exists; then it inserts
nothing and reads the cart as it stands, and the event goes to ADR 0031's statement
against that version. A concurrent insert of the same event id or identity fails the
statement, and the usual transaction stores what it always stored."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from cartassist.carts.services import ingest as ingest_module
from cartassist.carts.services.ingest import known_carts_forget
from cartassist.models import (
    Cart,
    CartEvent,
    ContactIdentity,
    EventType,
    ShopperIdentity,
    Site,
    Visitor,
)
from tests.fixtures.carts import make_event
from tests.fixtures.sites import make_site, make_stall_rules
from tests.integration.test_concurrent_shoppers import ingest
from tests.integration.test_known_carts import plain_statements, stored

__all__ = ["plain_statements"]  # the fixture, used by name

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WRITTEN = 'WITH c AS (SELECT "id" FROM "cartassist_cart" WHERE "id" = '


def is_new(sql: str) -> bool:
    """The one statement of a cart's first event: the cart's insert where the event id is
    not stored (the usual transaction's upsert has no such condition)."""
    return sql.startswith('WITH c AS (INSERT INTO "cartassist_cart"') and (
        'WHERE NOT EXISTS (SELECT FROM "cartassist_cartevent"' in sql
    )


def is_usual(sql: str) -> bool:
    """The usual transaction's first statement (its BEGIN travels with it once the
    transaction has sent nothing before it): the cart's upsert or lock, and the events."""
    return sql.removeprefix("BEGIN; ").startswith("WITH c AS (") and not is_new(sql)


def sent(queries: CaptureQueriesContext) -> list[str]:
    """The statements that wrote or read the carts' events (Django's own records of a
    transaction's ends, "BEGIN" and "COMMIT", left out)."""
    return [q["sql"] for q in queries.captured_queries if "cartassist_cartevent" in q["sql"]]


def site_with_rules() -> Site:
    site = make_site()
    make_stall_rules(site)
    return site


def cart_state(site: Site, cart: str) -> tuple[Any, ...]:
    """Every column of the cart but its ids and times, its deadline relative to its last
    activity; its events' columns but their ids and times; its stage last."""
    row = Cart.objects.filter(site=site, external_id=cart).values().get()
    for name in ("id", "external_id", "visitor_id", "created_at"):
        row.pop(name, None)
    deadline, last_activity = row.pop("stall_deadline"), row.pop("last_activity_at")
    relative = None if deadline is None else deadline - last_activity
    row.pop("state_at")  # the event's time, as last_activity_at: each event has its own
    converted_at = row.pop("converted_at")
    row["converted"] = None if converted_at is None else converted_at - last_activity
    events = CartEvent.objects.filter(site=site, cart__external_id=cart).values_list(
        "type", "source", "applied", "data", "customer_id"
    )
    return (sorted(row.items(), key=str), relative, list(events), row["stage"])


def identities(site: Site, kind: str = "visitor") -> dict[str, int]:
    """Visitor id (or customer id) → shopper number, for the site's identities of ``kind``."""
    return dict(
        ShopperIdentity.objects.filter(site=site, kind=kind).values_list("value", "shopper_id")
    )


def test_a_new_carts_first_event_is_one_statement_with_no_transaction(
    postgres: None, plain_statements: None
) -> None:
    # given: a process whose caches of the site are loaded (another cart's event)
    site = site_with_rules()
    ingest(site, [make_event("cart_updated", cart_id="c0", visitor_id="V0")])
    event = make_event("cart_updated", cart_id="c1", visitor_id="V1")
    # when
    with CaptureQueriesContext(connection) as queries:
        ingest(site, [event])
    # then: one statement and nothing else: no BEGIN, no COMMIT
    (statement,) = [q["sql"] for q in queries.captured_queries]
    assert is_new(statement)
    (state, events) = stored(site, "c1")
    assert state[:2] == ("cart", Decimal("60.00"))  # folded: the event's stage and subtotal
    assert state[-1] is True  # linked
    assert [(e[0], e[2]) for e in events] == [(event["id"], True)]
    cart = Cart.objects.get(site=site, external_id="c1")
    assert identities(site)["V1"] == cart.pk  # a shopper of its own, numbered by the cart


def test_its_next_event_is_written_against_the_version_the_statement_wrote(
    postgres: None, plain_statements: None
) -> None:
    # given: a cart created by the one statement
    site = site_with_rules()
    ingest(site, [make_event("cart_updated", cart_id="c1", visitor_id="V1")])
    # when: its next event
    with CaptureQueriesContext(connection) as queries:
        ingest(site, [make_event("checkout_step", cart_id="c1", visitor_id="V1")])
    # then: ADR 0031's one statement, which found the version remembered
    (statement,) = sent(queries)
    assert statement.startswith(WRITTEN)
    assert stored(site, "c1")[0][0] == "shipping"


def test_a_cart_this_process_has_not_seen_is_read_and_written_against_its_version(
    postgres: None, plain_statements: None
) -> None:
    # given: a cart another process created (this one remembers nothing of it)
    site = site_with_rules()
    ingest(site, [make_event("cart_updated", cart_id="c1", visitor_id="V1")])
    known_carts_forget()
    before = CartEvent.objects.count()
    # when: its next event
    with CaptureQueriesContext(connection) as queries:
        ingest(site, [make_event("checkout_step", cart_id="c1", visitor_id="V1")])
    # then: the statement inserted nothing and read the cart; ADR 0031's wrote the event
    # against the version read; no transaction around either
    statements = sent(queries)
    assert [is_new(sql) for sql in statements] == [True, False]
    assert statements[1].startswith(WRITTEN)
    assert not [q for q in queries.captured_queries if q["sql"].startswith(("BEGIN", "COMMIT"))]
    assert CartEvent.objects.count() == before + 1
    assert Cart.objects.filter(site=site).count() == 1
    assert stored(site, "c1")[0][0] == "shipping"


def test_a_returning_visitors_new_cart_joins_their_shopper_in_the_usual_transaction(
    postgres: None, plain_statements: None
) -> None:
    # given: visitor V1's first cart, whose identity names its shopper
    site = site_with_rules()
    ingest(site, [make_event("cart_updated", cart_id="c1", visitor_id="V1")])
    first = Cart.objects.get(site=site, external_id="c1")
    # when: the visitor's second cart
    with CaptureQueriesContext(connection) as queries:
        ingest(site, [make_event("cart_updated", cart_id="c2", visitor_id="V1")])
    # then: the statement inserted nothing (the identity is stored), the usual transaction
    # created the cart and linked it to the visitor's shopper
    statements = sent(queries)
    assert is_new(statements[0])
    assert is_usual(statements[1])
    assert identities(site) == {"V1": first.pk}
    assert Cart.objects.get(site=site, external_id="c2").identities_linked


def test_an_event_id_stored_for_another_cart_creates_no_cart(
    postgres: None, plain_statements: None
) -> None:
    # given: an event stored for cart c1
    site = site_with_rules()
    event = make_event("cart_updated", cart_id="c1", visitor_id="V1")
    ingest(site, [event])
    # when: the same event id for a cart that does not exist (a client's bug)
    ingest(site, [{**event, "cart_id": "c2", "visitor_id": "V2"}])
    # then: a duplicate; no cart c2, no identity for V2, c1 and its event as they were
    assert list(Cart.objects.filter(site=site).values_list("external_id", flat=True)) == ["c1"]
    assert set(identities(site)) == {"V1"}
    assert CartEvent.objects.get(site=site, event_id=event["id"]).cart.external_id == "c1"


@pytest.mark.parametrize(
    ("first", "written"),
    [
        (make_event("opted_out", cart_id="c1", visitor_id="V1"), "the visitor's opt-out"),
        (
            make_event("cart_updated", cart_id="c1", visitor_id="V1", email="ada@example.com"),
            "the email's hash",
        ),
        (
            make_event("cart_updated", cart_id="c1", visitor_id="V1", customer_id="K1"),
            "the customer's identity",
        ),
    ],
)
def test_a_first_event_that_brings_more_than_the_statement_writes_takes_the_usual_transaction(
    postgres: None, plain_statements: None, first: dict[str, Any], written: str
) -> None:
    # given: a site (the server endpoint, which may send contact details)
    site = site_with_rules()
    # when: a cart's first event that brings an opt-out, contact details or a customer id
    with CaptureQueriesContext(connection) as queries:
        ingest(site, [first])
    # then: the usual transaction alone, which wrote what the event brought too
    statements = sent(queries)
    assert is_usual(statements[0])
    assert not [sql for sql in statements if is_new(sql)]
    assert CartEvent.objects.filter(site=site, event_id=first["id"]).count() == 1
    if written == "the visitor's opt-out":
        assert Visitor.objects.get(site=site, external_id="V1").opted_out_at is not None
    elif written == "the email's hash":
        assert ContactIdentity.objects.filter(site=site, kind="email").count() == 1
    else:
        assert set(identities(site, kind="customer")) == {"K1"}


def test_the_same_rows_as_the_usual_transaction_for_every_kind_of_first_event(
    postgres: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a first event of each kind the one statement takes (an opt-out takes the
    # usual transaction), each for a new cart, once through the one statement and once
    # through the usual transaction
    site = site_with_rules()
    kinds = [kind for kind in EventType.values if kind != EventType.OPTED_OUT]
    for kind in kinds:
        ingest(site, [make_event(kind, cart_id=f"one-{kind}", visitor_id=f"v-one-{kind}")])
    monkeypatch.setattr(ingest_module, "_new_cart_ingest", lambda *args, **kwargs: None)
    for kind in kinds:
        ingest(site, [make_event(kind, cart_id=f"usual-{kind}", visitor_id=f"v-usual-{kind}")])
    # then: the same cart state, events and links
    for kind in kinds:
        one, usual = cart_state(site, f"one-{kind}"), cart_state(site, f"usual-{kind}")
        assert one == usual, kind
        assert one[-1]  # the events made the cart what they say (not a blank cart)
    by_visitor = identities(site)
    carts = dict(Cart.objects.filter(site=site).values_list("external_id", "pk"))
    assert by_visitor == {f"v-{name}": pk for name, pk in carts.items()}


@pytest.mark.parametrize("meanwhile", ["identity", "event id"])
def test_a_row_stored_meanwhile_fails_the_statement_and_the_usual_transaction_decides(
    postgres: None, meanwhile: str
) -> None:
    # given: a transaction of another connection that has stored, and not committed yet,
    # visitor V's identity (as a link under the shopper lock does) or the event's id (for
    # another cart: a client reusing ids)
    site = site_with_rules()
    ingest(site, [make_event("cart_updated", cart_id="c0", visitor_id="W")])
    c0 = Cart.objects.get(site=site, external_id="c0")
    event = make_event("cart_updated", cart_id="c1", visitor_id="V")
    stored_meanwhile, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def other_writer() -> None:
        try:
            with transaction.atomic():
                if meanwhile == "identity":
                    ShopperIdentity.objects.create(
                        site=site, kind="visitor", value="V", shopper_id=c0.pk
                    )
                else:
                    CartEvent.objects.create(
                        site=site,
                        cart=c0,
                        event_id=event["id"],
                        type="cart_updated",
                        source="server",
                        visitor_id="W",
                        occurred_at=c0.last_activity_at,
                        received_at=c0.last_activity_at,
                    )
                stored_meanwhile.set()
                release.wait(timeout=30)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    statements: list[str] = []

    def new_cart_of_v() -> None:
        def record(execute: Any, sql: str, *args: Any) -> Any:
            statements.append(sql)
            return execute(sql, *args)

        try:
            with connection.execute_wrapper(record):
                ingest(Site.objects.get(pk=site.pk), [event])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    writer = threading.Thread(target=other_writer)
    writer.start()
    assert stored_meanwhile.wait(timeout=30)
    # when: cart c1's first event, whose statement waits for that uncommitted row
    sender = threading.Thread(target=new_cart_of_v)
    sender.start()
    waiting_for_a_lock()
    release.set()
    writer.join(timeout=30)
    sender.join(timeout=30)
    # then: the statement failed on the row (nothing of it stored), and the usual
    # transaction decided: its first statement comes after (its BEGIN travels with it
    # once prepared)
    assert not errors
    new = [
        i for i, sql in enumerate(statements) if sql.startswith("EXECUTE cartassist_ingest_new_")
    ]
    usual = [
        i
        for i, sql in enumerate(statements)
        if sql.removeprefix("BEGIN; ").startswith("EXECUTE cartassist_ingest_cart_")
    ]
    assert (len(new), len(usual)) == (1, 1)
    assert new[0] < usual[0]
    if meanwhile == "identity":  # the cart created, linked to the shopper V names
        cart = Cart.objects.get(site=site, external_id="c1")
        assert cart.identities_linked
        assert identities(site) == {"W": c0.pk, "V": c0.pk}
        assert CartEvent.objects.filter(site=site, cart=cart).count() == 1
    else:  # a duplicate: no cart c1, the event c0's
        assert not Cart.objects.filter(site=site, external_id="c1").exists()
        assert set(identities(site)) == {"W"}
        assert CartEvent.objects.get(site=site, event_id=event["id"]).cart_id == c0.pk


def waiting_for_a_lock() -> None:
    """Return once another session waits for a lock (an uncommitted row's)."""
    for _ in range(300):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            ((waiting,),) = cursor.fetchall()
        if waiting:
            return
        threading.Event().wait(0.05)
    raise AssertionError("the new cart's statement never waited for the row")


def test_first_events_for_one_new_cart_at_once_store_each_event_once_and_one_cart(
    postgres: None,
) -> None:
    # given: six requests at once for one new cart: three carry the same event, three
    # others of their own
    site = site_with_rules()
    same = make_event("cart_updated", cart_id="c1", visitor_id="V1")
    others = [make_event("checkout_step", cart_id="c1", visitor_id="V1") for _ in range(3)]
    requests = [same, same, same, *others]
    barrier = threading.Barrier(len(requests))
    errors: list[BaseException] = []

    def send(event: dict[str, Any]) -> None:
        try:
            barrier.wait(timeout=30)
            ingest(Site.objects.get(pk=site.pk), [event])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(event,)) for event in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then: one cart, linked to a shopper of its own, each event stored once
    assert not errors
    cart = Cart.objects.get(site=site, external_id="c1")
    assert cart.identities_linked
    assert identities(site) == {"V1": cart.pk}
    stored_ids = sorted(CartEvent.objects.filter(site=site).values_list("event_id", flat=True))
    assert stored_ids == sorted(e["id"] for e in [same, *others])
