"""``atomic_with_ends`` (ADR 0027): on PostgreSQL, in the outermost block, the first
statement carries the BEGIN and the last write the COMMIT; what commits never changes."""

from __future__ import annotations

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from cartassist.core.transactions import atomic_with_ends, bound_cursor
from cartassist.models import Site
from tests.fixtures.sites import make_site

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RENAME = "UPDATE cartassist_site SET name = %s WHERE id = %s"


def name_seen_by_another_connection(site: Site) -> str:
    """The site's name as a second connection reads it: committed data only."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT name FROM cartassist_site WHERE id = %s", [site.pk])
            (name,) = cursor.fetchone()
            return str(name)
    finally:
        other.close()


def test_the_last_write_travels_with_the_commit_and_on_commit_sees_it_committed(
    postgres: None,
) -> None:
    # given
    site = make_site(name="Before")
    seen_on_commit: list[str] = []
    # when
    with CaptureQueriesContext(connection) as queries, atomic_with_ends() as ends:
        transaction.on_commit(lambda: seen_on_commit.append(name_seen_by_another_connection(site)))
        ends.set_last(RENAME, ["After", site.pk])
    # then: one statement for the write and the COMMIT, committed before on_commit ran
    (write,) = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert write.endswith("; COMMIT")
    assert seen_on_commit == ["After"]
    assert name_seen_by_another_connection(site) == "After"
    assert not connection.in_atomic_block


def test_inside_a_callers_transaction_the_last_write_leaves_the_commit_to_it(
    postgres: None,
) -> None:
    # given
    site = make_site(name="Before")

    # when: the caller's transaction rolls back after the block
    def rename_in_a_transaction_that_fails() -> None:
        with transaction.atomic():
            with atomic_with_ends() as ends:
                ends.set_last(RENAME, ["After", site.pk])
            assert Site.objects.get(pk=site.pk).name == "After"  # written, not committed
            raise RuntimeError("the caller fails")

    with CaptureQueriesContext(connection) as queries, pytest.raises(RuntimeError):
        rename_in_a_transaction_that_fails()
    # then
    assert not [q for q in queries.captured_queries if "COMMIT" in q["sql"].split(";")[-1]]
    assert Site.objects.get(pk=site.pk).name == "Before"


def test_a_block_that_fails_never_runs_its_last_write(db: None) -> None:
    # given
    site = make_site(name="Before")

    # when
    def rename_then_fail() -> None:
        with atomic_with_ends() as ends:
            ends.set_last(RENAME, ["After", site.pk])
            raise RuntimeError("a later step fails")

    with pytest.raises(RuntimeError):
        rename_then_fail()
    # then
    assert Site.objects.get(pk=site.pk).name == "Before"


def test_a_last_write_runs_on_every_database(db: None) -> None:
    # given
    site = make_site(name="Before")
    # when
    with atomic_with_ends() as ends:
        ends.set_last(RENAME, ["After", site.pk])
    # then
    assert Site.objects.get(pk=site.pk).name == "After"


def test_a_failing_last_write_rolls_the_block_back(postgres: None) -> None:
    # given
    site = make_site(name="Before")

    # when: the block renames the site, then its last write fails
    def rename_then_fail_last() -> None:
        with atomic_with_ends() as ends:
            Site.objects.filter(pk=site.pk).update(name="During")
            ends.set_last("SELECT 1 / 0 WHERE %s", [True])

    with pytest.raises(Exception, match="division by zero"):
        rename_then_fail_last()
    # then
    assert name_seen_by_another_connection(site) == "Before"
    assert not connection.in_atomic_block


def test_a_bound_cursor_takes_arrays_and_is_logged(db: None) -> None:
    # when
    with CaptureQueriesContext(connection) as queries, bound_cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT * FROM unnest(CAST(%b AS text[]))", [["a'b", 'c"d', "é"]])
            rows = [value for (value,) in cursor.fetchall()]
        else:
            cursor.execute("SELECT %s", ["a'b"])
            rows = [cursor.fetchone()[0]]
    # then
    assert rows[0] == "a'b"
    assert len(queries.captured_queries) == 1
    if connection.vendor == "postgresql":
        assert rows == ["a'b", 'c"d', "é"]


RENAME_RETURNING = "UPDATE cartassist_site SET name = %s WHERE id = %s RETURNING name"


def test_the_first_statement_carries_the_begin_and_stays_in_the_transaction(
    postgres: None,
) -> None:
    # given
    site = make_site(name="Before")

    # when: the first statement renames the site, a later step fails
    def rename_first_then_fail() -> None:
        with atomic_with_ends() as ends:
            assert ends.first(RENAME_RETURNING, ["During", site.pk]) == [("During",)]
            assert name_seen_by_another_connection(site) == "Before"  # not committed
            raise RuntimeError("a later step fails")

    with CaptureQueriesContext(connection) as queries, pytest.raises(RuntimeError):
        rename_first_then_fail()
    # then: sent with its BEGIN, rolled back with the block
    (first,) = [q["sql"] for q in queries.captured_queries if "UPDATE" in q["sql"]]
    assert first.startswith("BEGIN; UPDATE")
    assert name_seen_by_another_connection(site) == "Before"
    # and the connection is back in autocommit: a plain write commits at once
    Site.objects.filter(pk=site.pk).update(name="Later")
    assert name_seen_by_another_connection(site) == "Later"


def test_a_block_sent_as_two_round_trips_commits_both_statements(postgres: None) -> None:
    # given
    site = make_site(name="Before")
    other = make_site(name="Other")
    # when
    with CaptureQueriesContext(connection) as queries, atomic_with_ends() as ends:
        ends.first(RENAME_RETURNING, ["First", site.pk])
        ends.set_last(RENAME, ["Last", other.pk])
    # then
    statements = [q["sql"] for q in queries.captured_queries if "UPDATE" in q["sql"]]
    assert [s.split(" ")[0] for s in statements] == ["BEGIN;", "UPDATE"]
    assert statements[1].endswith("; COMMIT")
    assert name_seen_by_another_connection(site) == "First"
    assert name_seen_by_another_connection(other) == "Last"


def test_a_first_statement_after_others_or_in_a_callers_transaction_runs_alone(
    postgres: None,
) -> None:
    # given
    site = make_site(name="Before")
    # when
    with CaptureQueriesContext(connection) as queries:
        with transaction.atomic(), atomic_with_ends() as ends:  # a caller's transaction
            ends.first(RENAME_RETURNING, ["Nested", site.pk])
        with atomic_with_ends() as ends:  # something was sent in the block already
            Site.objects.filter(pk=site.pk).update(name="Plain")
            ends.first(RENAME_RETURNING, ["Second", site.pk])
    # then
    statements = [q["sql"] for q in queries.captured_queries if "RETURNING" in q["sql"]]
    assert len(statements) == 2
    assert not [s for s in statements if s.startswith("BEGIN")]
    assert name_seen_by_another_connection(site) == "Second"
