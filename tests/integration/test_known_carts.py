"""A single event for a cart this process has stored or locked before (ADR 0030): its one
statement locks the cart instead of sending the insert of the cart its events would make,
and stores what the upsert stores; a cart deleted since is created again in the same
transaction; a duplicate is still stored once."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cartassist.carts.services.ingest import known_carts_forget
from cartassist.models import Cart, CartEvent, Site
from tests.fixtures.carts import make_event
from tests.fixtures.sites import make_site, make_stall_rules
from tests.integration.test_concurrent_shoppers import ingest

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CART_INSERT = 'INSERT INTO "cartassist_cart"'


@pytest.fixture
def plain_statements(settings: Any) -> None:
    """Statements sent as text, not by a prepared name, so that a test can read them."""
    settings.DATABASE_ASYNC_PREPARE_THRESHOLD = -1


def journey(cart: str) -> list[list[dict[str, Any]]]:
    """A cart's events, one request each, the last one a repeat of the second."""
    second = make_event("checkout_step", cart_id=cart, visitor_id=f"v-{cart}")
    return [
        [make_event("cart_updated", cart_id=cart, visitor_id=f"v-{cart}")],
        [second],
        [make_event("shipping_quoted", cart_id=cart, visitor_id=f"v-{cart}")],
        [second],
    ]


def stored(site: Site, cart: str) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The cart's state (its stall deadline as the time after its last activity: the
    journeys' events carry the time they were made) and its events."""
    stage, subtotal, fee, currency, lines, deadline, linked, last_activity = (
        Cart.objects.filter(site=site, external_id=cart)
        .values_list(
            "stage",
            "subtotal",
            "shipping_fee",
            "currency",
            "lines",
            "stall_deadline",
            "identities_linked",
            "last_activity_at",
        )
        .get()
    )
    events = CartEvent.objects.filter(site=site, cart__external_id=cart).values_list(
        "event_id", "type", "applied", "data"
    )
    state = (stage, subtotal, fee, currency, lines, deadline - last_activity, linked)
    return state, sorted(events)


def first_statements(queries: CaptureQueriesContext) -> list[str]:
    """Each transaction's first statement (the one that carries the BEGIN)."""
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("BEGIN; ")]


def test_a_steady_event_locks_the_cart_the_process_has_seen_and_sends_no_cart(
    postgres: None, plain_statements: None
) -> None:
    # given: a cart's first event, stored by this process
    site = make_site()
    make_stall_rules(site)
    first, *rest = journey("c1")
    ingest(site, first)
    # when: its next events
    with CaptureQueriesContext(connection) as queries:
        for request in rest:
            ingest(site, request)
    # then: each request's statement locks the cart and inserts the events; no cart insert
    # (the last one alone, with no transaction around it: the cart's version written by
    # the request before is known, ADR 0031)
    statements = first_statements(queries)
    statements += [q["sql"] for q in queries.captured_queries if q["sql"].startswith("WITH c AS")]
    assert len(statements) == 3
    for sql in statements:
        assert sql.removeprefix("BEGIN; ").startswith("WITH c AS (SELECT ")
        assert "FOR NO KEY UPDATE" in sql
        assert CART_INSERT not in sql
    # and the repeated event is stored once
    (cart, events) = stored(site, "c1")
    assert [event_type for _id, event_type, _applied, _data in events].count("checkout_step") == 1
    assert cart[0] == "shipping"


def test_a_journey_stores_the_same_with_and_without_the_carts_known(
    postgres: None, plain_statements: None
) -> None:
    # given: one journey stored by a process that has seen its cart, one by processes that
    # have not (each request as in a new process)
    site = make_site()
    make_stall_rules(site)
    for request in journey("seen"):
        ingest(site, request)
    with CaptureQueriesContext(connection) as unseen:
        for request in journey("unseen"):
            known_carts_forget()
            ingest(site, request)
    # then: those sent the upsert every time, and both stored the same
    assert all(CART_INSERT in sql for sql in first_statements(unseen))
    seen_cart, seen_events = stored(site, "seen")
    unseen_cart, unseen_events = stored(site, "unseen")
    assert seen_cart == unseen_cart
    # (the event ids differ; each type is stored once)
    assert sorted(e[1:] for e in seen_events) == sorted(e[1:] for e in unseen_events)


def test_a_cart_deleted_since_it_was_seen_is_created_again_in_the_same_transaction(
    postgres: None, plain_statements: None
) -> None:
    # given: a cart stored by this process, then deleted (the retention purge)
    site = make_site()
    make_stall_rules(site)
    first, second, *_ = journey("c1")
    ingest(site, first)
    Cart.objects.filter(site=site, external_id="c1").delete()
    # when: an event for it
    with CaptureQueriesContext(connection) as queries:
        ingest(site, second)
    # then: the lock found nothing, and the upsert created the cart with the event
    sent = [q["sql"] for q in queries.captured_queries]
    locked = next(i for i, sql in enumerate(sent) if sql.startswith("BEGIN; WITH c AS (SELECT "))
    assert CART_INSERT in sent[locked + 1]
    cart, events = stored(site, "c1")
    assert [event_type for _id, event_type, _applied, _data in events] == ["checkout_step"]
    assert cart[-1]  # linked to its shopper again
    # and the next event locks the cart again, with no cart insert (here in the one
    # statement of ADR 0031: the transaction that created the cart again updated it)
    with CaptureQueriesContext(connection) as again:
        ingest(site, [make_event("shipping_quoted", cart_id="c1", visitor_id="v-c1")])
    (statement,) = [q["sql"] for q in again.captured_queries if "cartassist_cartevent" in q["sql"]]
    assert statement.removeprefix("BEGIN; ").startswith("WITH c AS (SELECT ")
    assert CART_INSERT not in statement
