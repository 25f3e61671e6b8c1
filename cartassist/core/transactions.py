"""A transaction whose last write travels with its COMMIT (docs/adr/0027).

``transaction.atomic()`` sends COMMIT as a round trip of its own once the block ends. A
hot write path whose last statement is a plain write (ingestion's UPDATE of the carts it
changed) can send that statement and the COMMIT together instead: one round trip less
per request. ``atomic_with_last_write()`` is ``transaction.atomic()`` plus a ``LastWrite``
the block sets instead of executing its final statement; when the block ends without an
exception the statement runs, as ``<statement>; COMMIT`` when that is safe:

- PostgreSQL with Django's default client-side binding cursor (psycopg's
  ``ClientCursor``): its query is sent over the simple protocol, which runs several
  statements in one message, in order, and stops at the first that fails;
- the block is the outermost one (not a savepoint inside a caller's or a test's
  transaction), and not marked for rollback.

Otherwise the statement runs alone and ``atomic()`` commits as usual. Afterwards Django
commits a connection that is idle already: psycopg sends nothing then, and the
``on_commit`` callbacks run as they always do, after the data is durable. A failure of
the statement or of the COMMIT (a deferred constraint) is raised inside the block, so
``atomic()`` rolls back (nothing to roll back once the server has ended the transaction)
and the caller sees the error, as with a plain COMMIT.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper


@dataclass
class LastWrite:
    """The block's final statement, if it has one (set it as the block's last step)."""

    sql: str = ""
    params: Sequence[Any] = ()

    def set(self, sql: str, params: Sequence[Any]) -> None:
        self.sql, self.params = sql, params


@contextmanager
def atomic_with_last_write() -> Iterator[LastWrite]:
    """``transaction.atomic()`` whose ``LastWrite``, when set, runs at the end of the
    block and, where it can, carries the COMMIT in the same round trip."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        last = LastWrite()
        yield last
        if last.sql:
            sql = last.sql
            if outermost and _commit_can_travel() and not connection.needs_rollback:
                sql += "; COMMIT"
            with connection.cursor() as cursor:
                cursor.execute(sql, last.params)


def _commit_can_travel() -> bool:
    if connection.vendor != "postgresql":
        return False
    options = connection.settings_dict.get("OPTIONS") or {}
    return not options.get("server_side_binding")


@contextmanager
def bound_cursor() -> Iterator[CursorWrapper]:
    """``connection.cursor()``, but on PostgreSQL one that sends the parameters apart
    from the SQL (psycopg's server-side binding, Django's ``ServerBindingCursor``) where
    Django's default cursor quotes every value into the statement's text. For the hot
    statements with array parameters (a batch's columns): psycopg dumps a list of 50
    values in binary instead of escaping each into a literal, and prepares a statement
    it has run five times, whose text does not change. One statement a call (the
    extended protocol): ``atomic_with_last_write`` keeps the default cursor."""
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
