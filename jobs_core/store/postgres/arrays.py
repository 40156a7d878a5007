"""Array parameters with few distinct values: passed packed, read back in SQL.

A batch (of jobs enqueued, of outcomes written) usually repeats one value down most of its
columns: one command, one engine, one state, one response. Each element of an array costs
asyncpg an encoding and two or three `isinstance` checks against the collections ABCs
(~0.2 µs measured), and the server its decoding; a column whose values are all the same is
sent as one element instead.
"""

from __future__ import annotations

from typing import Any


def packed(column: tuple[Any, ...], unset: Any) -> tuple[Any, ...] | None:
    """An array parameter as `broadcast` reads it: NULL when every value is `unset` (the
    column's default), one element when every value is the same, else the column."""
    first = column[0] if column else unset
    if column.count(first) != len(column):
        return column
    return None if first == unset else (first,)


def broadcast(array: str, element: str) -> str:
    """SQL reading a `packed` array: its element `element` (of an unnest over the full
    arrays, which pads a shorter one with NULLs), or its only element for every row."""
    return f"CASE WHEN cardinality({array}) = 1 THEN ({array})[1] ELSE {element} END"
