"""Statements PostgreSQL plans once per session (``cartassist/core/sql.py``,
``PreparedStatement``; ADR 0028): a single event's ingest statements (ADRs 0028, 0031
and 0032) and the carts' UPDATE are prepared the first time a session runs them and run by
name afterwards; a pooled session that prepared them already is not asked to again; with
prepared statements off they are sent plain; the data stored is the same either way."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cartassist.core.sql import PreparedStatement, prepared_statements_forget
from cartassist.models import Cart, CartEvent, Site
from tests.fixtures.carts import make_event
from tests.fixtures.sites import make_site, make_stall_rules
from tests.integration.test_concurrent_shoppers import ingest

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Django records a transaction's ends as "BEGIN" and "COMMIT" of its own.
BOOKKEEPING = ("BEGIN", "COMMIT")


def sent(queries: CaptureQueriesContext) -> list[str]:
    """Each statement sent, cut before its parameters, with the ingest statements' names
    as ``<cart>``, ``<carts>``, ``<new>`` and ``<written>`` (their hashes left out)."""
    return [
        re.sub(
            r"cartassist_ingest_(carts?|new|written)_[0-9a-f]{16}", r"<\1>", q["sql"].split(" (")[0]
        )
        for q in queries.captured_queries
        if q["sql"] not in BOOKKEEPING
    ]


def journey(cart: str) -> list[list[dict[str, Any]]]:
    """A cart's first event, then two more, one request each."""
    return [
        [make_event("cart_updated", cart_id=cart, visitor_id=f"v-{cart}")],
        [make_event("checkout_step", cart_id=cart, visitor_id=f"v-{cart}")],
        [make_event("shipping_quoted", cart_id=cart, visitor_id=f"v-{cart}")],
    ]


def cart_and_events(site: Site, cart: str) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    row = Cart.objects.filter(site=site, external_id=cart).values_list(
        "stage", "subtotal", "shipping_fee", "currency", "lines", "identities_linked"
    )
    events = CartEvent.objects.filter(site=site, cart__external_id=cart).values_list(
        "type", "applied", "data"
    )
    return row.get(), sorted(events)


def fresh_session() -> None:
    """The session prepares everything anew, as a new connection does."""
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    prepared_statements_forget()


def test_placeholders_are_numbered_and_a_literal_percent_kept() -> None:
    # given
    statement = PreparedStatement.of("t", "SELECT %s, '100%%', %s", ("int", "text"))
    # then
    assert statement._prepare_sql() == (
        f"PREPARE {statement.name} (int, text) AS SELECT $1, '100%', $2"
    )
    assert statement.name.startswith("t_")
    assert PreparedStatement.of("t", "SELECT %s").name != PreparedStatement.of("t", "SELECT 1").name


def test_a_session_prepares_each_statement_once_then_runs_it_by_name(postgres: None) -> None:
    # given
    site = make_site()
    make_stall_rules(site)
    fresh_session()
    # when: a cart's first two events, then another cart's (the same statements)
    with CaptureQueriesContext(connection) as on_first_use:
        for request in journey("c1")[:2]:
            ingest(site, request)
    with CaptureQueriesContext(connection) as afterwards:
        for request in journey("c2")[:2]:
            ingest(site, request)
    # then: asked, prepared, run; then only run (other statements of a first ingest, such
    # as a process cache's load, left out). A new cart's first event is one statement with
    # no transaction around it (ADR 0032), and so is its second, for a cart whose version
    # this process wrote (ADR 0031)
    ingest_statements = [sql for sql in sent(on_first_use) if "<new" in sql or "<written" in sql]
    assert [sql.split(" AS ")[0] for sql in ingest_statements] == [
        "SELECT 1 FROM pg_prepared_statements WHERE name = '<new>'",
        "PREPARE <new>",
        "EXECUTE <new>",
        "SELECT 1 FROM pg_prepared_statements WHERE name = '<written>'",
        "PREPARE <written>",
        "EXECUTE <written>",
    ]
    assert sent(afterwards) == ["EXECUTE <new>", "EXECUTE <written>"]
    assert [q["sql"] for q in afterwards.captured_queries][-1].startswith("EXECUTE ")
    assert Cart.objects.filter(site=site, identities_linked=True, stage="shipping").count() == 2


def test_a_session_that_prepared_them_already_is_only_asked(postgres: None) -> None:
    # given: prepared on this session, but the process does not know it (a pooled
    # session it has not used yet)
    site = make_site()
    make_stall_rules(site)
    for request in journey("c1")[:2]:
        ingest(site, request)
    prepared_statements_forget()
    # when: another cart's first two events: the same statements
    with CaptureQueriesContext(connection) as queries:
        for request in journey("c2")[:2]:
            ingest(site, request)
    # then
    assert [sql.split(" AS ")[0] for sql in sent(queries)] == [
        "SELECT 1 FROM pg_prepared_statements WHERE name = '<new>'",
        "EXECUTE <new>",
        "SELECT 1 FROM pg_prepared_statements WHERE name = '<written>'",
        "EXECUTE <written>",
    ]
    assert Cart.objects.get(site=site, external_id="c2").stage == "shipping"


def test_without_prepared_statements_the_same_rows_are_stored_by_plain_statements(
    postgres: None, settings: Any
) -> None:
    # given: one cart's journey stored with prepared statements
    site = make_site()
    make_stall_rules(site)
    for request in journey("prepared"):
        ingest(site, request)
    # when: the same journey with them off (a PgBouncer in transaction mode)
    settings.DATABASE_ASYNC_PREPARE_THRESHOLD = -1
    with CaptureQueriesContext(connection) as queries:
        for request in journey("plain"):
            ingest(site, request)
    # then: no EXECUTE, the same cart and events
    assert not [sql for sql in sent(queries) if "EXECUTE" in sql or "PREPARE" in sql]
    first = queries.captured_queries[0]["sql"]
    assert first.startswith('WITH c AS (INSERT INTO "cartassist_cart"')  # one statement
    prepared, plain = cart_and_events(site, "prepared"), cart_and_events(site, "plain")
    assert prepared == plain
    assert prepared[0][0] == "shipping"  # the journey was applied


def test_with_a_connection_per_request_the_statements_are_sent_plain(
    postgres: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: no pool and CONN_MAX_AGE 0 (a session per request: a prepared plan would
    # be used once, for two more statements)
    site = make_site()
    make_stall_rules(site)
    monkeypatch.delitem(connection.settings_dict["OPTIONS"], "pool", raising=False)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    fresh_session()
    # when
    with CaptureQueriesContext(connection) as queries:
        ingest(site, journey("c1")[0])
    # then
    assert not [sql for sql in sent(queries) if "EXECUTE" in sql or "pg_prepared" in sql]
    assert Cart.objects.get(site=site, external_id="c1").identities_linked
