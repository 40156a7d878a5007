"""`Batch`: the handle `create_batch` returns, to close, follow or cancel a batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .records import BatchStatus

if TYPE_CHECKING:
    from .history_api import HistoryMixin


class Batch:
    """A batch record; jobs join it with `batch_id=batch.id`.

    Once closed (`close()`, or its declared `total` of jobs joined) no job may join it, and
    when every job of it has ended its `on_complete` command runs once, with a
    `BatchCompleted` request, and `on_success` too if none failed or was cancelled.
    """

    def __init__(self, jobs: HistoryMixin, batch_id: str, name: str | None = None) -> None:
        self._jobs = jobs
        self.id = batch_id
        """Pass it as `batch_id` to join jobs to the batch."""
        self.name = name

    async def close(self) -> None:
        """No more jobs will join (from any process): the batch finishes once every job it
        has ended, at once if they all have already."""
        await self._jobs.close_batch(self.id)

    async def status(self) -> BatchStatus:
        """Its state, counts by job state, failed ids, start and finish times."""
        return await self._jobs.batch_status(self.id)

    async def cancel(self, reason: str = "batch cancelled") -> list[int]:
        """Cancel the batch and its unfinished jobs (returns their ids); its callbacks
        never run."""
        return await self._jobs.cancel_batch(self.id, reason)

    def __repr__(self) -> str:
        return f"Batch(id={self.id!r}, name={self.name!r})"
