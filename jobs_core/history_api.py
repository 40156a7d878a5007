"""The history and composition API of `BackgroundJobs`: attempts, batches, retention, search."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .admin_api import masked_page
from .batch import Batch
from .clock import to_ms
from .errors import InvalidOptionError, JobsError
from .limits import check_at_most, check_job_id, check_page_limit
from .options import check_string_map
from .records import BatchStatus, Job, JobAttempt, JobState, Page, PurgeReport
from .retention import cutoff, purge_states
from .store.history_protocol import HistoryStore
from .store.protocol import BatchCallback, NewBatch

if TYPE_CHECKING:
    from .clock import Clock
    from .engine.engine import Engine
    from .enqueuing import JobBuilder
    from .store.protocol import Store


class HistoryMixin:
    """Attempt history, batch records, retention and search of `BackgroundJobs`."""

    if TYPE_CHECKING:
        store: Store
        clock: Clock
        _engine: Engine | None
        _builder: JobBuilder

        async def batch_status(self, batch_id: str) -> BatchStatus: ...

        async def cancel_batch(self, batch_id: str, reason: str = ...) -> list[int]: ...

        def _changed_here(self) -> None: ...

    async def attempts(self, job_id: int) -> list[JobAttempt]:
        """Every attempt of the job, oldest first: number, engine and host, times, outcome
        (completed, failed, timed out, cancelled, lost, interrupted, or running now), error
        with its traceback, last progress and status, and the attempt's own log lines.
        A requeue shows as an entry with outcome `requeued` (attempt numbers start again).
        JobNotFoundError if there is no such job."""
        check_job_id(job_id)
        return await self._history().attempts(job_id)

    async def create_batch(
        self,
        name: str | None = None,
        *,
        on_complete: str | None = None,
        on_success: str | None = None,
        meta: Mapping[str, str] | None = None,
        total: int | None = None,
        batch_id: str | None = None,
    ) -> Batch:
        """Record a batch; jobs join it with `batch_id=batch.id` (a new unique id unless
        `batch_id` is given).

        When the batch is closed (`batch.close()`, or once `total` jobs joined) and every
        job of it has ended, `on_complete` runs once with a `BatchCompleted` request (its
        counts, failed ids and `meta`), and `on_success` as well when none failed or was
        cancelled: once across every engine. The commands must be registered here or
        declared by an engine (UnknownCommandError otherwise).
        """
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise InvalidOptionError(f"a batch name must be a non-empty string, got {name!r}")
        if total is not None and (not isinstance(total, int) or isinstance(total, bool)
                                  or total < 1):  # fmt: skip
            raise InvalidOptionError(f"total must be an int >= 1, got {total!r}")
        if total is not None:
            check_at_most(total, "total")
        if meta is not None:
            check_string_map(meta, "meta")
        new = NewBatch(
            id=batch_id or uuid.uuid4().hex, name=name,
            on_complete=await self._callback(on_complete, "on_complete"),
            on_success=await self._callback(on_success, "on_success"),
            meta=dict(meta or {}), declared_total=total,
        )  # fmt: skip
        await self._history().create_batch(new, self.clock.now_ms())
        return Batch(self, new.id, name)

    def batch(self, batch_id: str) -> Batch:
        """A handle on an existing batch (created here or in another process)."""
        return Batch(self, batch_id)

    async def close_batch(self, batch_id: str) -> None:
        """No more jobs may join the batch (BatchClosedError); it finishes once every job
        of it has ended. BatchNotFoundError if there is no such batch."""
        ids = await self._history().close_batch(batch_id, self.clock.now_ms())
        self._changed_here()
        if ids and self._engine is not None:
            self._engine.wake()

    async def purge(
        self,
        older_than: timedelta | datetime,
        *,
        state: JobState | str | Iterable[JobState | str] | None = None,
        dry_run: bool = False,
    ) -> PurgeReport:
        """Remove finished jobs older than `older_than` (an age, or an aware datetime), of
        `state` (completed, failed, cancelled; default all three), from any process.

        Whole past months go at once (their file, or their partitions); the rest in small
        transactions. Their attempts, search entries and summaries go too (the newest
        summary stays, so ids are never reused), and the counters drop by as many. Returns
        what was removed; with `dry_run`, what would be, removing nothing.
        """
        now = self.clock.now_ms()
        limit = cutoff(older_than, now)
        report = await self._history().purge(limit, purge_states(state), now, dry_run=dry_run)
        self._changed_here()
        return report

    async def search(
        self,
        text: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: int | None = None,
        limit: int = 50,
    ) -> Page[Job]:
        """Archived (finished) jobs whose command, tag, error, status, request, result or logs
        hold every word of `text`, newest first, across every month (or those finished in
        [`since`, `until`)); pass `next_cursor` back as `cursor` for the next page.
        """
        if not isinstance(text, str):
            raise InvalidOptionError(f"search text must be a string, got {text!r}")
        check_page_limit(limit)
        page = await self._history().search(
            text, since=_instant(since, "since"), until=_instant(until, "until"),
            cursor=cursor, limit=limit,
        )  # fmt: skip
        return masked_page(page)

    async def _callback(self, command: str | None, option: str) -> BatchCallback | None:
        if command is None:
            return None
        if not isinstance(command, str) or not command:
            raise InvalidOptionError(f"{option} must be a command name, got {command!r}")
        spec = await self._builder.spec(command)
        settings = self._builder.settings
        return BatchCallback(
            command=command, worker=spec.worker,
            retry_limit=settings.default_retry_limit if spec.retry_limit is None
            else spec.retry_limit,
            timeout_secs=settings.default_timeout_secs if spec.timeout_secs is None
            else spec.timeout_secs,
        )  # fmt: skip

    def _history(self) -> HistoryStore:
        if not isinstance(self.store, HistoryStore):
            raise JobsError(f"the store at {self.store.location} keeps no history")
        return self.store


def _instant(value: datetime | None, name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidOptionError(f"{name} must be an aware datetime, got {value!r}")
    return to_ms(value)
