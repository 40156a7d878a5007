"""The operator console's store calls (issue 12) on PostgreSQL, as far as they are built here.

`children` and `blocked_by` read what the PostgreSQL schema already has. Queries across
months, bulk actions and per-command figures came to the SQLite store with the console and
are not built on PostgreSQL yet: each refuses with a `StoreError` saying so, rather than
answering as if the store were empty.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from jobs_core.errors import StoreError
from jobs_core.query import FIELD_KEYS, JobQuery
from jobs_core.records import Job, JobFilter, JobSummary, Page, ThroughputBucket
from jobs_core.store.protocol import BulkOutcome, DurationTally

from .connection import Conn
from .rows import SUMMARY_SELECT, row_to_summary

R = TypeVar("R")


def query_filter(query: JobQuery, location: str) -> JobFilter:
    """The `JobFilter` (exact fields, one text) a query stands for on PostgreSQL, whose
    listings take only that much so far; a richer query (negation, prefixes, several values,
    arguments, time bounds) is refused, naming the store."""
    fields: dict[str, Any] = {}
    states = query.states
    for term in query.terms:
        if term.key == "state" and not term.negate:
            continue  # the listing's own scope decides the states; narrowed below
        simple = not term.negate and not term.prefix and len(term.values) == 1
        name = "text" if term.key == "text" else FIELD_KEYS.get(term.key)
        if not simple or name is None or name == "error_code" or name in fields:
            raise StoreError(f"{location}: the query '{query}' is not available on PostgreSQL yet")
        fields[name] = term.values[0]
    if query.since is not None or query.before is not None:
        raise StoreError(f"{location}: time bounds in queries are not available on PostgreSQL yet")
    if len(states) == 1:
        fields["state"] = next(iter(states))
    return JobFilter(**fields)


CHILDREN = f"SELECT {SUMMARY_SELECT} FROM job_summary WHERE parent_id = $1 ORDER BY id"
BLOCKED_BY = """
SELECT id, waiting_on FROM background_job
WHERE id = ANY($1::bigint[]) AND waiting_on IS NOT NULL AND state = 'queued'
"""


class ConsoleStoreMixin:
    """What the operator console asks of a store beyond the rest of `Store`."""

    location: str
    _read: Callable[[Callable[[Conn], Awaitable[Any]]], Awaitable[Any]]

    async def children(self, job_id: int) -> list[JobSummary]:
        rows = await self._read(lambda c: c.fetch(CHILDREN, job_id))
        return [row_to_summary(r) for r in rows]

    async def blocked_by(self, job_ids: list[int]) -> dict[int, int]:
        rows = await self._read(lambda c: c.fetch(BLOCKED_BY, job_ids))
        return {r[0]: r[1] for r in rows}

    def _not_yet(self, what: str) -> NoReturn:
        raise StoreError(f"{self.location}: {what} is not available on PostgreSQL yet")

    async def find_jobs(self, query: JobQuery, cursor: int | None, limit: int) -> Page[Job]:
        self._not_yet("searching jobs by query")

    async def find_job_ids(self, query: JobQuery, cursor: int | None, limit: int) -> Page[int]:
        self._not_yet("searching jobs by query")

    async def count_jobs(self, query: JobQuery) -> int:
        self._not_yet("counting jobs by query")

    async def cancel_jobs(self, job_ids: list[int], reason: str, now: int) -> BulkOutcome:
        self._not_yet("cancelling jobs in bulk")

    async def requeue_jobs(self, job_ids: list[int], now: int) -> BulkOutcome:
        self._not_yet("requeueing jobs in bulk")

    async def delete_jobs(self, job_ids: list[int], now: int) -> BulkOutcome:
        self._not_yet("deleting jobs")

    async def duration_tallies(self, since: int, now: int) -> list[DurationTally]:
        self._not_yet("per-command figures")

    async def command_throughput(
        self, command: str, since: int, now: int
    ) -> list[ThroughputBucket]:
        self._not_yet("per-command throughput")
