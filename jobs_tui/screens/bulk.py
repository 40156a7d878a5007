"""The bulk-action modal: runs a cancel, requeue or delete of many jobs in a thread of its
own (its own store connections), in batches, with a progress bar."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import ProgressBar, Static

from jobs_core import BackgroundJobs, BulkResult, JobQuery, JobsError

if TYPE_CHECKING:
    from jobs_tui.app import JobsApp

VERBS = {"cancel": "Cancelling", "requeue": "Requeueing", "delete": "Deleting"}


class BulkScreen(ModalScreen[BulkResult | None]):
    """Shows the progress of one bulk action and closes with its result."""

    def __init__(self, action: str, target: Sequence[int] | JobQuery, count: int) -> None:
        super().__init__()
        self.action = action
        self.target = target
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical(id="bulk-dialog"):
            yield Static(f"{VERBS[self.action]} {self.count:,} jobs…", id="bulk-title")
            yield ProgressBar(total=max(1, self.count), show_eta=False, id="bulk-progress")
            yield Static("in batches of 200; engines keep running", id="bulk-note")

    def on_mount(self) -> None:
        self._run()

    @work(thread=True, exclusive=True, group="bulk")
    def _run(self) -> None:
        """In a thread: a facade of its own, so the app's loop never waits on a batch."""
        jobs = cast("JobsApp", self.app).jobs.reopen()
        try:
            result = asyncio.run(self._perform(jobs))
        except JobsError as error:
            self.app.call_from_thread(self._failed, str(error))
            return
        self.app.call_from_thread(self.dismiss, result)

    async def _perform(self, jobs: BackgroundJobs) -> BulkResult:
        try:
            if self.action == "cancel":
                return await jobs.bulk_cancel(self.target, progress=self._progress)
            if self.action == "requeue":
                return await jobs.bulk_requeue(self.target, progress=self._progress)
            return await jobs.bulk_delete(self.target, progress=self._progress)
        finally:
            await jobs.close()

    def _progress(self, done: int, total: int) -> None:
        self.app.call_from_thread(self._show, done, total)

    def _show(self, done: int, total: int) -> None:
        self.query_one(ProgressBar).update(total=max(1, total), progress=done)

    def _failed(self, error: str) -> None:
        self.notify(error, title="Not done", severity="error")
        self.dismiss(None)
