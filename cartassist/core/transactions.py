"""A transaction whose first statement carries its BEGIN and whose last write carries
its COMMIT (docs/adr/0027).

``transaction.atomic()`` costs two round trips of its own on PostgreSQL: psycopg sends
BEGIN before the block's first statement, and Django sends COMMIT once the block ends. A
hot write path (ingestion) can send them along with its statements instead.
``atomic_with_ends()`` is ``transaction.atomic()`` plus ``Ends``:

- ``Ends.first(sql, params)`` runs the block's first statement and returns its rows, as
  ``BEGIN; <statement>``: psycopg is told not to open the transaction itself
  (``autocommit`` on, while the server's transaction is the one this BEGIN opened);
- ``Ends.set_last(sql, params)`` names the block's final statement, which runs when the
  block ends without an exception, as ``<statement>; COMMIT``; afterwards
  ``Ends.last_rows`` holds the rows it returned (``RETURNING``). ``Ends.outermost``: the
  block is the transaction (not a savepoint), committed once it ends without an
  exception.

Both only where that is safe, else the statement runs alone and ``atomic()`` begins and
commits as usual:

- PostgreSQL with Django's default client-side binding cursor (psycopg's
  ``ClientCursor``): its query is sent over the simple protocol, which runs several
  statements in one message, in order, and stops at the first that fails; no isolation
  level set in ``OPTIONS`` (the BEGIN here is a plain one);
- the block is the outermost one (not a savepoint inside a caller's or a test's
  transaction); for the BEGIN, nothing was sent in it yet; for the COMMIT, the block is
  not marked for rollback.

Every statement in between runs in the server's transaction as usual. Afterwards Django
commits a connection that is idle already: psycopg sends nothing then (it commits or
rolls back only a connection in a transaction, whatever its ``autocommit``), and the
``on_commit`` callbacks run as they always do, after the data is durable. A failure of
any statement or of the COMMIT (a deferred constraint) is raised inside the block, so
``atomic()`` rolls back and the caller sees the error, as with a plain COMMIT.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper


class Ends:
    """The first and last statements of an ``atomic_with_ends()`` block."""

    def __init__(self, *, outermost: bool) -> None:
        self.outermost = outermost  # the block is the transaction: it commits on exit
        self.last_sql = ""
        self.last_params: Sequence[Any] = ()
        self.last_rows: list[tuple[Any, ...]] = []

    def first(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run ``sql``, the block's first statement, and return its rows; with the BEGIN
        in the same round trip where that is safe."""
        with connection.cursor() as cursor:
            if self.outermost and _ends_can_travel() and _idle():
                raw = cast(Any, connection.connection)
                raw.autocommit = True  # the BEGIN below opens the transaction, not psycopg
                cursor.execute(f"BEGIN; {sql}", params)
                cursor.nextset()
            else:
                cursor.execute(sql, params)
            return cast(list[tuple[Any, ...]], cursor.fetchall())

    def set_last(self, sql: str, params: Sequence[Any]) -> None:
        """Name the block's final statement (run as the block ends, with the COMMIT)."""
        self.last_sql, self.last_params = sql, params


@contextmanager
def atomic_with_ends() -> Iterator[Ends]:
    """``transaction.atomic()`` whose first statement may carry the BEGIN and whose last
    write, when set, runs at the end of the block and may carry the COMMIT."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        ends = Ends(outermost=outermost)
        yield ends
        if ends.last_sql:
            sql = ends.last_sql
            if outermost and _ends_can_travel() and not connection.needs_rollback:
                sql += "; COMMIT"
            with connection.cursor() as cursor:
                cursor.execute(sql, ends.last_params)
                if cursor.description is not None:  # the first result: the statement's
                    ends.last_rows = cast(list[tuple[Any, ...]], cursor.fetchall())


def statement_is_transaction() -> bool:
    """Whether a statement sent now on PostgreSQL commits by itself: autocommit, outside
    any ``atomic()`` block (a caller's or a test's), over the simple protocol that
    ``atomic_with_ends`` uses too. For a write that is whole in one statement (ADR 0031)."""
    return _ends_can_travel() and not connection.in_atomic_block and connection.get_autocommit()


def _ends_can_travel() -> bool:
    if connection.vendor != "postgresql":
        return False
    options = connection.settings_dict.get("OPTIONS") or {}
    return not options.get("server_side_binding") and options.get("isolation_level") is None


def _idle() -> bool:
    from psycopg.pq import TransactionStatus  # noqa: PLC0415  # PostgreSQL only

    raw = cast(Any, connection.connection)
    return bool(raw.info.transaction_status == TransactionStatus.IDLE)


@contextmanager
def bound_cursor() -> Iterator[CursorWrapper]:
    """``connection.cursor()``, but on PostgreSQL one that sends the parameters apart
    from the SQL (psycopg's server-side binding, Django's ``ServerBindingCursor``) where
    Django's default cursor quotes every value into the statement's text. For the hot
    statements with array parameters (a batch's columns): psycopg dumps a list of 50
    values in binary instead of escaping each into a literal. PostgreSQL plans each call:
    Django turns psycopg's automatic preparation off, and turning it on would have
    psycopg answer every rollback with ``DEALLOCATE ALL`` (ADR 0028). One statement a
    call (the extended protocol): ``atomic_with_ends`` keeps the default cursor."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import (  # noqa: PLC0415  # psycopg installed
        ServerBindingCursor,
    )

    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        raw = cast(Any, ServerBindingCursor)(connection.connection)
    # Wrapped as connection.cursor() wraps its own (query logging, error translation).
    wrapped: CursorWrapper = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    with wrapped as cursor:
        yield cursor
