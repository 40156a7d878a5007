"""Keyset windows: merge a refetched first page with the rows already loaded beyond it."""

from __future__ import annotations

from jobs_core import Job, Page


def merge_first_page(shown: list[Job], page: Page[Job], *, newest_first: bool) -> list[Job]:
    """The rows to show after refetching the first page: the page, then the rows loaded
    earlier with "load more" that lie beyond the page's cursor (exclusive)."""
    if page.next_cursor is None:
        return list(page.items)
    boundary = page.next_cursor
    seen = {job.id for job in page.items}
    if newest_first:
        tail = [j for j in shown if j.id < boundary and j.id not in seen]
    else:
        tail = [j for j in shown if j.id > boundary and j.id not in seen]
    return [*page.items, *tail]


def append_page(shown: list[Job], page: Page[Job]) -> list[Job]:
    """The rows after a "load more" page: the rows shown, then the page's new rows."""
    seen = {job.id for job in shown}
    return [*shown, *(job for job in page.items if job.id not in seen)]
