"""The base of every data screen: one refresher that waits for a change, fetches one page
and posts a typed message, plus the job actions (cancel, requeue, open) with confirmation."""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, cast

from textual import work
from textual.binding import Binding
from textual.screen import Screen

from jobs_core import ACTIVE_STATES, REQUEUEABLE_STATES, BackgroundJobs, JobsError, JobState
from jobs_tui.messages import Loaded, LoadFailed
from jobs_tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from jobs_tui.app import JobsApp

CANCELLABLE_STATES = ACTIVE_STATES - {JobState.EXECUTED}
"""An executed job is only waiting for its callback; there is nothing left to stop."""


@dataclass(frozen=True, slots=True)
class SelectedJob:
    """The job an action applies to."""

    id: int
    command: str
    state: JobState


class DataScreen(Screen[None]):
    """A screen fed by one refresher. Subclasses implement `fetch` and message handlers."""

    TICK_SECONDS: ClassVar[float | None] = 1.0
    """Refetch this often even without a change (elapsed/ago columns); None: only on change."""

    MIN_INTERVAL: ClassVar[float] = 0.0
    """Least time between two refetches caused by changes, for views with costlier queries."""

    JOB_BINDINGS: ClassVar[list[Binding]] = [
        Binding("c", "cancel", "Cancel", id="job.cancel"),
        Binding("r", "requeue", "Requeue", id="job.requeue"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.loaded = False
        """Set once the first data arrived (tests and screenshots wait for it)."""
        self._wake = asyncio.Event()
        self._wake.set()
        self._last_error = ""

    @property
    def jobs_app(self) -> JobsApp:
        return cast("JobsApp", self.app)

    @property
    def jobs(self) -> BackgroundJobs:
        return self.jobs_app.jobs

    def now_ms(self) -> int:
        return self.jobs_app.clock.now_ms()

    def on_mount(self) -> None:
        self._refresh_loop()

    def request_refresh(self) -> None:
        """Refetch at the next poll, even if no other process changed anything (our own
        writes do not change the change token)."""
        self._wake.set()

    @abstractmethod
    async def fetch(self) -> Loaded:
        """Fetch what the view shows (a few API calls, one page at most)."""

    @work(exclusive=True, group="refresh")
    async def _refresh_loop(self) -> None:
        token: int | None = None
        last = 0.0
        while True:
            forced = self._wake.is_set()
            self._wake.clear()
            if self.is_current:
                current: int | None
                try:
                    current = self.jobs.change_token()
                except JobsError:
                    current = token  # the store is closing; keep showing what we have
                tick = (
                    self.TICK_SECONDS is not None and time.monotonic() - last >= self.TICK_SECONDS
                )
                soon = time.monotonic() - last < self.MIN_INTERVAL
                if forced or tick or (current != token and not soon):
                    token, last = current, time.monotonic()
                    self.post_message(await self._fetch_safely())
            elif forced:
                self._wake.set()  # hidden: refresh once visible again
            await self._sleep()

    async def _sleep(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.jobs_app.poll_interval)

    async def _fetch_safely(self) -> Loaded:
        try:
            return await self.fetch()
        except JobsError as error:
            return LoadFailed(str(error))

    def on_load_failed(self, message: LoadFailed) -> None:
        if message.error != self._last_error:
            self._last_error = message.error
            self.notify(message.error, title="Refresh failed", severity="error")

    # -- job actions ------------------------------------------------------------------------

    def selected_job(self) -> SelectedJob | None:
        """The job under the cursor, if the view has one."""
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("cancel", "requeue", "open_job"):
            job = self.selected_job()
            if job is None:
                return None
            if action == "cancel":
                return True if job.state in CANCELLABLE_STATES else None
            if action == "requeue":
                return True if job.state in REQUEUEABLE_STATES else None
        return True

    def action_cancel(self) -> None:
        job = self.selected_job()
        if job is None or job.state not in CANCELLABLE_STATES:
            return
        running = job.state is JobState.STARTED
        question = f"Cancel job {job.id} ({job.command})?"
        if running:
            question += "\nIt is running: its engine will be asked to stop it."
        self.confirm_then(question, lambda: self._cancel(job.id))

    async def _cancel(self, job_id: int) -> str:
        state = await self.jobs.cancel(job_id)
        if state is JobState.STARTED:
            return f"Job {job_id}: asked its engine to stop it"
        return f"Job {job_id} cancelled"

    def action_requeue(self) -> None:
        job = self.selected_job()
        if job is None or job.state not in REQUEUEABLE_STATES:
            return
        self.confirm_then(f"Requeue job {job.id} ({job.command})?", lambda: self._requeue(job.id))

    async def _requeue(self, job_id: int) -> str:
        ids = await self.jobs.requeue(job_id)
        return "Requeued job " + ", ".join(str(i) for i in ids)

    def action_open_job(self) -> None:
        job = self.selected_job()
        if job is not None:
            self.jobs_app.open_job(job.id)

    def confirm_then(self, question: str, call: Callable[[], Awaitable[str]]) -> None:
        """Ask in a modal; when confirmed, run `call` in a worker and report its outcome."""

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self.run_worker(self._perform(call), group="action")

        self.app.push_screen(ConfirmScreen(question), answered)

    async def _perform(self, call: Callable[[], Awaitable[str]]) -> None:
        try:
            note = await call()
        except JobsError as error:
            self.notify(str(error), title="Not done", severity="error")
        else:
            self.notify(note)
        self.request_refresh()
