"""Hand-written SQL for hot paths that skip the ORM's compilation (the console's remedies
panel, ADR 0026; a single event's ingest, ADR 0027): quoted identifiers from the models'
metadata, and statements prepared once per session (``PreparedStatement``, ADR 0028).
Values are never formatted into SQL: they go as parameters."""

from __future__ import annotations

import hashlib
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Field, Model


def sql_table(model: type[Model]) -> str:
    """The model's table, quoted for the default connection."""
    return connection.ops.quote_name(model._meta.db_table)


def sql_column(model: type[Model], name: str) -> str:
    """The column of the model's field ``name`` (a foreign key's ``…_id``), quoted."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.column:
        raise ValueError(f"{model.__name__}.{name} has no column")
    return connection.ops.quote_name(field.column)


# --- prepared statements ---------------------------------------------------------------

# Per psycopg connection (weakly): the names of the statements prepared on its session.
_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_PLACEHOLDER = re.compile(r"%([s%])")


@dataclass(frozen=True)
class PreparedStatement:
    """A hot statement PostgreSQL plans once per session instead of on every call
    (planning was most of the server's time for the remedies panel and for a single
    event's ingest statement: ADRs 0026 and 0028).

    ``sql`` is the statement as Django's cursor takes it (``%s`` placeholders);
    ``call(params)`` gives the SQL and parameters to run instead: ``EXECUTE <name> (%s,
    …)`` once the statement is prepared on the connection's session, which it does the
    first time (a ``PREPARE`` of its own; the name carries a hash of the text, so a new
    release never runs an old one's). Elsewhere, ``sql`` itself: on SQLite, where
    server-side prepared statements cannot be kept (``DATABASE_ASYNC_PREPARE_THRESHOLD``
    = -1: a PgBouncer in transaction mode), and where each request has a connection of
    its own (no pool, ``CONN_MAX_AGE`` 0). ``EXECUTE`` is a statement like any other:
    it runs over the simple protocol with other statements in one message (a BEGIN
    before it, a COMMIT after: ``core/transactions.py``)."""

    name: str
    sql: str
    types: tuple[str, ...] = ()

    @classmethod
    def of(cls, prefix: str, sql: str, types: tuple[str, ...] = ()) -> PreparedStatement:
        """``types``: the parameters' types for ``PREPARE``; left out, PostgreSQL infers
        them from where each appears (a column it is stored in, a ``CAST``)."""
        digest = hashlib.sha256("\0".join([sql, *types]).encode()).hexdigest()[:16]
        return cls(name=f"{prefix}_{digest}", sql=sql, types=types)

    def call(self, params: Sequence[Any]) -> tuple[str, Sequence[Any]]:
        """The SQL and parameters that run this statement on the default connection,
        preparing it there first if needed."""
        if not _sessions_kept() or settings.DATABASE_ASYNC_PREPARE_THRESHOLD < 0:
            return self.sql, params
        self._ensure_prepared()
        return f"EXECUTE {self.name} ({', '.join(['%s'] * len(params))})", params

    def _ensure_prepared(self) -> None:
        """Prepare on this session unless it has been. A session this process has not
        used yet (a pooled one) is asked first (``pg_prepared_statements``): it may have
        prepared the statement already, and a second ``PREPARE`` of a name fails. A
        prepared statement outlives a rollback; a new session prepares it again."""
        connection.ensure_connection()
        names = _prepared.setdefault(connection.connection, set())
        if self.name in names:
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", [self.name])
            if cursor.fetchone() is None:
                cursor.execute(self._prepare_sql())
        names.add(self.name)

    def _prepare_sql(self) -> str:
        numbered = iter(range(1, self.sql.count("%s") + 1))
        body = _PLACEHOLDER.sub(lambda m: f"${next(numbered)}" if m[1] == "s" else "%", self.sql)
        types = f" ({', '.join(self.types)})" if self.types else ""
        return f"PREPARE {self.name}{types} AS {body}"


def _sessions_kept() -> bool:
    """PostgreSQL whose sessions outlive a request (a pool, or ``CONN_MAX_AGE`` other than
    0): a statement prepared on a connection closed after one request would cost two more
    statements each time, for a plan used once."""
    if connection.vendor != "postgresql":
        return False
    settings_dict = connection.settings_dict
    return bool((settings_dict.get("OPTIONS") or {}).get("pool")) or bool(
        settings_dict.get("CONN_MAX_AGE") != 0
    )


def prepared_statements_forget() -> None:
    """Forget which sessions prepared which statements (tests: a session that prepared
    one already is then asked, as a pooled session this process has not used is)."""
    _prepared.clear()
