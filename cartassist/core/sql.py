"""Quoted identifiers for hand-written SQL, from the models' metadata (hot paths that
skip the ORM's compilation: the console's remedies panel, ADR 0026). Values are never
formatted into SQL: they go as parameters."""

from __future__ import annotations

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
