"""`Marks`: the jobs a list view's bulk actions apply to: some ids, or everything a query
matches (counted when marked)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from jobs_core import JobQuery


class Marks:
    """Marked job ids, or a whole query; one or the other."""

    def __init__(self) -> None:
        self.ids: dict[int, None] = {}
        """Marked ids, in the order they were marked."""
        self.query: JobQuery | None = None
        """Marked: every job this query matches (in every month)."""
        self.query_count = 0
        """How many jobs the query matched when it was marked."""

    def __bool__(self) -> bool:
        return bool(self.ids) or self.query is not None

    def __contains__(self, job_id: int) -> bool:
        return self.query is not None or job_id in self.ids

    def toggle(self, job_id: int) -> None:
        self.query = None
        if job_id in self.ids:
            del self.ids[job_id]
        else:
            self.ids[job_id] = None

    def mark_all(self, job_ids: Iterable[int]) -> None:
        """Mark every id given (the rows loaded); marking them all again clears them."""
        wanted = list(job_ids)
        self.query = None
        if wanted and all(i in self.ids for i in wanted):
            for job_id in wanted:
                self.ids.pop(job_id, None)
            return
        self.ids.update(dict.fromkeys(wanted))

    def mark_matching(self, query: JobQuery, count: int) -> None:
        self.ids.clear()
        self.query, self.query_count = query, count

    def clear(self) -> None:
        self.ids.clear()
        self.query, self.query_count = None, 0

    @property
    def count(self) -> int:
        return self.query_count if self.query is not None else len(self.ids)

    def target(self) -> Sequence[int] | JobQuery:
        """What a bulk action is given."""
        return self.query if self.query is not None else list(self.ids)

    def describe(self) -> str:
        """`3 marked` or `all 1,204 matching marked`, empty when nothing is."""
        if self.query is not None:
            return f"all {self.query_count:,} matching marked"
        return f"{len(self.ids):,} marked" if self.ids else ""
