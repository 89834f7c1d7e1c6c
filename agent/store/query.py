"""SELECT statements with optional filters, shared by the store's read methods."""

from __future__ import annotations

from collections.abc import Sequence


def filtered_select(
    select: str, filters: Sequence[tuple[str, object]], order_by: str, limit: int | None = None
) -> tuple[str, list[object]]:
    """``select`` with a WHERE of the ``(clause, value)`` pairs whose value is not None,
    then ``ORDER BY order_by`` and an optional ``LIMIT``; returns the SQL and its parameters."""
    clauses = [clause for clause, value in filters if value is not None]
    params: list[object] = [value for _, value in filters if value is not None]
    sql = select
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += f" ORDER BY {order_by}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params
