"""A single event for a cart whose last write this process made (ADR 0031): one
autocommitted statement that locks the cart only if its row is still the version this
process wrote, inserts the event first-wins and writes the changed columns. A row written
since by anyone else is read by that statement and the event sent once more against it;
a second miss, a stale memory or a repeated event change nothing there, and the usual
transaction stores what it always stored."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cartassist.carts.services import ingest as ingest_module
from cartassist.carts.services.ingest import known_carts_forget
from cartassist.models import Cart, CartEvent, Site
from tests.fixtures.carts import iso, make_event
from tests.fixtures.sites import make_site, make_stall_rules
from tests.integration.test_concurrent_shoppers import ingest
from tests.integration.test_known_carts import plain_statements, stored

__all__ = ["plain_statements"]  # the fixture, used by name

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WRITTEN = 'WITH c AS (SELECT "id" FROM "cartassist_cart" WHERE "id" = '


START = timezone.now() - timedelta(minutes=10)


def at(seconds: int) -> str:
    """A time ``seconds`` after a fixed start: events in a known order."""
    return iso(START + timedelta(seconds=seconds))


def version(site: Site, cart: str) -> str:
    """The cart row's version: the id of the transaction that wrote it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xmin::text FROM cartassist_cart WHERE site_id = %s AND external_id = %s",
            [site.pk, cart],
        )
        (row,) = cursor.fetchall()
    return str(row[0])


def by_content(events: list[tuple[Any, ...]]) -> list[str]:
    """Stored events without their ids, in an order that does not depend on the ids."""
    return sorted(json.dumps(event[1:], sort_keys=True, default=str) for event in events)


def journey(cart: str) -> list[dict[str, Any]]:
    """A cart's events in time order, one request each; the last repeats the fourth."""
    steps = [
        make_event("cart_updated", occurred_at=at(0)),
        make_event("checkout_step", data={"step": "contact"}, occurred_at=at(1)),
        make_event("checkout_step", data={"step": "shipping"}, occurred_at=at(2)),
        make_event("shipping_quoted", occurred_at=at(3)),
        make_event("checkout_step", data={"step": "payment"}, occurred_at=at(4)),
    ]
    events = [
        {**e, "id": f"{cart}-{e['id']}", "cart_id": cart, "visitor_id": f"v-{cart}"} for e in steps
    ]
    return [*events, events[3]]


def sent(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries]


def cart_written_twice(cart: str = "c1") -> tuple[Site, list[dict[str, Any]]]:
    """A site with stall rules, and a cart this process created and then updated with the
    first two events of its journey (returned whole)."""
    site = make_site()
    make_stall_rules(site)
    events = journey(cart)
    for event in events[:2]:
        ingest(site, [event])
    return site, events


def test_an_event_for_a_cart_this_process_wrote_is_one_statement_with_no_transaction(
    postgres: None, plain_statements: None
) -> None:
    # given: a cart this process created and then updated (the version it wrote known)
    site, (first, second, third, *_) = cart_written_twice()
    # when: its next event
    with CaptureQueriesContext(connection) as queries:
        ingest(site, [third])
    # then: one statement, no BEGIN or COMMIT: the version's lock, the event, the columns
    (statement,) = [sql for sql in sent(queries) if "cartassist_cartevent" in sql]
    assert statement.startswith(WRITTEN)
    assert "xmin = CAST(" in statement
    assert 'UPDATE "cartassist_cart" AS t SET' in statement
    assert not [sql for sql in sent(queries) if sql.startswith(("BEGIN", "COMMIT"))]
    cart, events = stored(site, "c1")
    assert cart[0] == "shipping"
    assert [e[0] for e in events] == sorted([first["id"], second["id"], third["id"]])


def test_the_next_event_for_a_cart_this_process_created_is_one_statement(
    postgres: None, plain_statements: None
) -> None:
    # given: a cart created by this process's first event (no UPDATE after its insert)
    site = make_site()
    make_stall_rules(site)
    first, second, *_ = journey("c1")
    with CaptureQueriesContext(connection) as created:
        ingest(site, [first])
    assert not [sql for sql in sent(created) if sql.startswith('UPDATE "cartassist_cart"')]
    # when: its second event
    with CaptureQueriesContext(connection) as queries:
        ingest(site, [second])
    # then: the one statement, against the version the cart's insert wrote
    (statement,) = [sql for sql in sent(queries) if "cartassist_cartevent" in sql]
    assert statement.startswith(WRITTEN)
    assert stored(site, "c1")[0][0] == "contact"


def test_a_journey_stores_the_same_with_and_without_the_versions_written(
    postgres: None, plain_statements: None
) -> None:
    # given: one journey by a process that remembers what it wrote, one by processes that
    # remember nothing (each request as in a new process)
    site = make_site()
    make_stall_rules(site)
    with CaptureQueriesContext(connection) as remembered:
        for event in journey("kept"):
            ingest(site, [event])
    for event in journey("new"):
        known_carts_forget()
        ingest(site, [event])
    # then: the first took the one statement for most events, and both stored the same
    assert sum(sql.startswith(WRITTEN) for sql in sent(remembered)) >= 3
    kept_cart, kept_events = stored(site, "kept")
    new_cart, new_events = stored(site, "new")
    assert kept_cart == new_cart
    assert by_content(kept_events) == by_content(new_events)
    assert len(kept_events) == 5  # the repeat stored once


def test_a_cart_written_since_by_another_is_sent_again_against_the_row_as_it_stands(
    postgres: None, plain_statements: None
) -> None:
    # given: a cart whose last write this process made, then written by another (a chat,
    # the sweep, another server process)
    site, (first, second, third, *_) = cart_written_twice()
    newer = START + timedelta(seconds=30)
    Cart.objects.filter(site=site, external_id="c1").update(
        stage="payment", state_at=newer, last_activity_at=newer
    )
    # when: its next event
    with CaptureQueriesContext(connection) as queries:
        ingest(site, [third])
    # then: the statement found no such version, stored nothing and read the row as it
    # stands; the event was folded into that (newer than the event: stored, not applied)
    # and sent again, against the version read
    statements = [sql for sql in sent(queries) if "cartassist_cartevent" in sql]
    assert len(statements) == 2
    assert all(sql.startswith(WRITTEN) for sql in statements)
    cart = Cart.objects.get(site=site, external_id="c1")
    assert (cart.stage, cart.last_activity_at) == ("payment", newer)
    assert not CartEvent.objects.get(site=site, event_id=third["id"]).applied
    # and the version the second statement wrote is the one remembered now
    with CaptureQueriesContext(connection) as again:
        ingest(site, [make_event("shipping_quoted", cart_id="c1", visitor_id="v-c1")])
    assert [sql for sql in sent(again) if "cartassist_cartevent" in sql][0].startswith(WRITTEN)
    again_cart = Cart.objects.get(pk=cart.pk)
    assert again_cart.stage == "payment"
    assert again_cart.last_activity_at > newer  # the event of now, applied


def test_a_cart_written_again_before_each_attempt_is_left_to_the_usual_transaction(
    postgres: None, plain_statements: None
) -> None:
    # given: a cart whose last write this process made, and another writer that writes it
    # again just before each of this process's one statements
    site, (first, second, third, *_) = cart_written_twice()
    cart_pk = Cart.objects.get(site=site, external_id="c1").pk

    def written_before(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith(WRITTEN):
            touch = 'UPDATE "cartassist_cart" SET "signal" = "signal" WHERE "id" = %s'
            execute(touch, [cart_pk], False, context)  # autocommitted: a new row version
        return execute(sql, params, many, context)

    # when: its next event
    with CaptureQueriesContext(connection) as queries, connection.execute_wrapper(written_before):
        ingest(site, [third])
    # then: two statements that wrote nothing, then the usual transaction, which stored it
    statements = [sql for sql in sent(queries) if "cartassist_cartevent" in sql]
    assert [sql.startswith(WRITTEN) for sql in statements] == [True, True, False]
    assert statements[2].startswith("BEGIN; WITH c AS (SELECT ")
    assert CartEvent.objects.filter(site=site, event_id=third["id"]).count() == 1
    assert Cart.objects.get(pk=cart_pk).stage == "shipping"


def test_a_repeated_event_is_a_duplicate_and_writes_nothing(
    postgres: None, plain_statements: None
) -> None:
    # given: a cart whose last write this process made with the event repeated below
    site, (first, second, *_) = cart_written_twice()
    before = (stored(site, "c1"), version(site, "c1"))
    # when: the event again
    with CaptureQueriesContext(connection) as queries:
        ingest(site, [second])
    # then: one statement, which stored nothing and left the cart's row as it was
    assert [sql for sql in sent(queries) if "cartassist_cartevent" in sql][0].startswith(WRITTEN)
    assert (stored(site, "c1"), version(site, "c1")) == before


def test_an_event_older_than_the_cart_state_is_stored_not_applied_and_writes_no_column(
    postgres: None, plain_statements: None
) -> None:
    # given: a cart whose last write this process made
    site = make_site()
    make_stall_rules(site)
    first, second, third, *_ = journey("c1")
    for event in (first, third):
        ingest(site, [event])
    # when: an event older than its state (a late retry from a slow network)
    with CaptureQueriesContext(connection) as queries:
        ingest(site, [second])
    # then: the one statement stored it as not applied and wrote no column of the cart
    (statement,) = [sql for sql in sent(queries) if "cartassist_cartevent" in sql]
    assert statement.startswith(WRITTEN)
    assert 'UPDATE "cartassist_cart"' not in statement
    assert not CartEvent.objects.get(site=site, event_id=second["id"]).applied
    assert Cart.objects.get(site=site, external_id="c1").stage == "shipping"


def test_a_version_remembered_too_long_is_not_used(
    postgres: None, plain_statements: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a cart whose last write this process made, remembered longer than allowed
    site, (first, second, third, *_) = cart_written_twice()
    monkeypatch.setattr(ingest_module, "KNOWN_CART_STATE_SECONDS", -1.0)
    # when: its next event
    with CaptureQueriesContext(connection) as queries:
        ingest(site, [third])
    # then: the usual transaction, and only that
    statements = [sql for sql in sent(queries) if "cartassist_cartevent" in sql]
    assert [sql.startswith("BEGIN; WITH c AS (SELECT ") for sql in statements] == [True]


def test_concurrent_events_for_one_cart_are_all_applied_once_whatever_was_remembered(
    postgres: None,
) -> None:
    # given: a cart this process has written, and four threads (connections of their own,
    # one memory: as several processes would, they write versions the others do not know)
    site, (first, second, *_) = cart_written_twice()
    errors: list[BaseException] = []

    def sender(thread: int) -> None:
        try:
            for index in range(12):
                seconds = 10 + index * 4 + thread  # every event newer than the last
                event = make_event(
                    "checkout_step",
                    data={"step": ("shipping", "payment")[index % 2]},
                    cart_id="c1",
                    visitor_id="v-c1",
                    occurred_at=at(seconds),
                )
                ingest(Site.objects.get(pk=site.pk), [event])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    latest = 10 + 11 * 4 + 3
    # then: every event stored once, and the cart's state is the newest event's
    assert not errors
    assert CartEvent.objects.filter(site=site, cart__external_id="c1").count() == 2 + 4 * 12
    cart = Cart.objects.get(site=site, external_id="c1")
    assert iso(cart.last_activity_at) == at(latest)
    assert cart.stage == "payment"  # the newest event (thread 3, index 11) is a payment step


def test_the_least_recently_written_cart_is_forgotten_first_when_the_memory_is_full(
    postgres: None, plain_statements: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: room for two carts' versions, and three carts written in turn
    site = make_site()
    make_stall_rules(site)
    monkeypatch.setattr(ingest_module, "KNOWN_CART_STATES_MAX", 2)
    first, second, third = journey("first"), journey("second"), journey("third")
    for events in (first, second, third):
        ingest(site, [events[0]])
    # when: the next event of the second cart, then of the first
    with CaptureQueriesContext(connection) as for_second:
        ingest(site, [second[1]])
    with CaptureQueriesContext(connection) as for_first:
        ingest(site, [first[1]])
    # then: only the first, written longest ago, was forgotten
    assert [sql for sql in sent(for_second) if "cartassist_cartevent" in sql][0].startswith(WRITTEN)
    assert [sql for sql in sent(for_first) if "cartassist_cartevent" in sql][0].startswith(
        "BEGIN; WITH c AS (SELECT "
    )


def test_the_carts_a_batch_updated_take_the_one_statement_afterwards(
    postgres: None, plain_statements: None
) -> None:
    # given: two carts created, then updated by one batch of both carts' events
    site = make_site()
    make_stall_rules(site)
    one, two = journey("one"), journey("two")
    ingest(site, [one[0], two[0]])
    ingest(site, [one[1], two[1]])
    # when: a single event for each
    with CaptureQueriesContext(connection) as queries:
        ingest(site, [one[2]])
        ingest(site, [two[2]])
    # then: each is the one statement, against the version the batch's UPDATE wrote
    statements = [sql for sql in sent(queries) if "cartassist_cartevent" in sql]
    assert len(statements) == 2
    assert all(sql.startswith(WRITTEN) for sql in statements)
    assert stored(site, "one")[0][0] == stored(site, "two")[0][0] == "shipping"
