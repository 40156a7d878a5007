"""Merging keyset pages of several sources (the live table and the archive) into one page,
newest first: shared by both backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from jobs_core.records import Job, Page

T = TypeVar("T")


def merge(pages: Sequence[Page[T]], limit: int) -> Page[T]:
    """One newest-first page from pages of several sources read with the same cursor.

    Each page covers the ids down to its `next_cursor`; together they cover the ids down
    to the highest of those, so rows below it wait for the next page."""
    bounds = [p.next_cursor for p in pages if p.next_cursor is not None]
    floor = max(bounds) if bounds else None
    seen: set[int] = set()
    merged: list[T] = []
    for item in sorted((i for p in pages for i in p.items), key=item_id, reverse=True):
        job_id = item_id(item)
        if job_id in seen or (floor is not None and job_id < floor):
            continue
        seen.add(job_id)
        merged.append(item)
    if len(merged) > limit:
        merged = merged[:limit]
        return Page(items=merged, next_cursor=item_id(merged[-1]))
    return Page(items=merged, next_cursor=floor)


def keyset_page(items: list[T], more: bool, window_end: int | None) -> Page[T]:
    """The page of `items` (read newest first): the next one starts below the last item when
    `more` rows were found, else where a bounded scan stopped (`window_end`), else none."""
    if more:
        return Page(items=items, next_cursor=item_id(items[-1]))
    if window_end is not None and window_end > 1:
        return Page(items=items, next_cursor=window_end)
    return Page(items=items, next_cursor=None)


def item_id(item: Any) -> int:
    """The id of a listed job, or the id itself (pages of ids)."""
    return item.id if isinstance(item, Job) else int(item)
