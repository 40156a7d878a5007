"""The store seam for history and composition: attempts, batch records, retention, search."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from jobs_core.records import Job, JobAttempt, JobState, Page, PurgeReport

from .protocol import NewBatch

PURGE_STEP = 2000
"""Most rows one purge transaction deletes, so no transaction holds the store for long."""


@runtime_checkable
class HistoryStore(Protocol):
    """History operations of a store. Times are UTC epoch ms passed in by the caller."""

    async def attempts(self, job_id: int) -> list[JobAttempt]:
        """Every attempt of the job, oldest first, with requeues between them as entries of
        outcome `requeued`: the rows kept for attempts that did not end the job, plus the
        attempt recorded in the job's own row (running, or the one that ended it).

        Wherever the job lives (queue or archive); JobNotFoundError if there is no such job;
        an empty list for a job whose archived row was removed.
        """
        ...

    async def create_batch(self, batch: NewBatch, now: int) -> None:
        """Record a new open batch with its callbacks; InvalidStateError naming it if a batch
        with that id exists already."""
        ...

    async def close_batch(self, batch_id: str, now: int) -> list[int]:
        """Close the batch: no job may join it any more (BatchClosedError). If every job of
        it already ended, it finishes in the same transaction and its callbacks are
        enqueued; returns their ids. BatchNotFoundError if there is no such batch; closing a
        closed, finished or cancelled batch changes nothing."""
        ...

    async def purge(
        self, older_than: int, states: frozenset[JobState], now: int, *, dry_run: bool,
        step: int = PURGE_STEP,
    ) -> PurgeReport:  # fmt: skip
        """Remove archived jobs in `states` (terminal ones) that finished before
        `older_than`, with their attempts, search entries and summaries, and take them off
        the counters. The store's newest job is never removed (ids are never reused).

        A whole month before `older_than` with every terminal state asked for is removed at
        once (its file, or its partitions); the rest in transactions of at most `step` rows.
        With `dry_run`, counts what would go and removes nothing.
        """
        ...

    async def purge_step(self, older_than: dict[JobState, int], now: int, step: int) -> int:
        """One small retention step for the engines' background task: remove up to `step`
        jobs per state that finished before that state's limit (and drop whole months that
        are past every limit); returns how many jobs went (0 when nothing is left)."""
        ...

    async def claim_maintenance(self, name: str, now: int, every_ms: int) -> bool:
        """Whether this caller runs the maintenance task `name` now: true for one caller per
        `every_ms` across every process (a compare-and-set on the store)."""
        ...

    async def search(
        self, text: str, *, since: int | None, until: int | None, cursor: int | None,
        limit: int,
    ) -> Page[Job]:  # fmt: skip
        """Archived jobs whose command, tag, error, status, request, result or logs hold
        every word of `text`, newest (highest id) first, below id `cursor`, finished in
        [since, until) when given. Months written before search existed are not searched.
        """
        ...

    async def recent_durations(self, command: str, limit: int) -> list[int]:
        """Durations (ms) of the latest completions of `command`, newest first, at most
        `limit` (a bounded, indexed read)."""
        ...
