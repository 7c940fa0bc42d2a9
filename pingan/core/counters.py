"""Numbering counters: one row per day (or year) holding the last number handed out."""

from __future__ import annotations

from typing import Any

from django.db import connection, models


def count_up(model: type[models.Model], key: str, value: Any, n: int = 1) -> int:
    """Add ``n`` to the ``last`` of ``model``'s row whose ``key`` is ``value`` (creating it at ``n``), in one
    upsert, and return the new ``last``: the numbers ``last - n + 1`` … ``last`` are the caller's. The row stays
    locked until the commit (PostgreSQL: the upsert's row lock; SQLite: the one writer), so two transactions
    never share a number, and a rolled-back one gives its numbers back unused."""
    field = model._meta.get_field(key)
    assert isinstance(field, models.Field)  # a column of the model, not a relation's reverse side
    quote = connection.ops.quote_name
    table, column, last = quote(model._meta.db_table), quote(str(field.column)), quote("last")
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO {table} ({column}, {last}) VALUES (%s, %s) "  # noqa: S608 (names from the model)
                    f"ON CONFLICT ({column}) DO UPDATE SET {last} = {table}.{last} + excluded.{last} RETURNING {last}",
                    [field.get_db_prep_value(value, connection), n])
        return int(cur.fetchone()[0])
