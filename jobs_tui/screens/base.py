"""The base of every data screen: one refresher that waits for a change, fetches and posts a
typed message; the bars around the screen; the job actions (cancel, requeue, open), confirmed."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from jobs_core import ACTIVE_STATES, REQUEUEABLE_STATES, BackgroundJobs, Job, JobsError, JobState
from jobs_tui.health import Health
from jobs_tui.messages import HealthChanged, Loaded, LoadFailed
from jobs_tui.screens.confirm import ConfirmScreen
from jobs_tui.screens.copy import CopyScreen, copy_text
from jobs_tui.themes import Palette, palette
from jobs_tui.widgets.chrome import AlertBar, TopBar

if TYPE_CHECKING:
    from jobs_tui.app import JobsApp

BUSY_SECONDS = 2.0
"""Least time between two refreshes while the store changes at every poll."""

CANCELLABLE_STATES = ACTIVE_STATES - {JobState.EXECUTED}
"""An executed job is only waiting for its callback; there is nothing left to stop."""

MUTATING_ACTIONS = frozenset(
    {"cancel", "requeue", "delete", "run_now", "toggle_pause", "mark", "mark_loaded",
     "mark_matching", "bulk_cancel", "bulk_requeue", "bulk_delete"}
)  # fmt: skip
"""Actions hidden and refused in read-only mode."""


@dataclass(frozen=True, slots=True)
class SelectedJob:
    """The job an action applies to."""

    id: int
    command: str
    state: JobState


class DataScreen(Screen[None]):
    """A screen fed by one refresher. Subclasses implement `fetch`, `compose_body` and the
    handlers of their messages."""

    TICK_SECONDS: ClassVar[float | None] = 1.0
    """Refetch this often even without a change (elapsed/ago columns); None: only on change."""

    MIN_INTERVAL: ClassVar[float] = 0.0
    """Least time between two refetches caused by changes, for views with costlier queries."""

    MODE: ClassVar[str | None] = None
    """The app mode this screen is (lit in the top bar); None for pushed screens."""

    JOB_BINDINGS: ClassVar[list[Binding]] = [
        Binding("c", "cancel", "Cancel", id="job.cancel"),
        Binding("r", "requeue", "Requeue", id="job.requeue"),
    ]
    COPY_BINDING = Binding("y", "copy", "Copy", show=False, id="job.copy")

    BINDINGS: ClassVar = [Binding("escape", "back", "Back", show=False, id="screen.back")]

    def __init__(self) -> None:
        super().__init__()
        self.loaded = False
        """Set once the first data arrived (tests and screenshots wait for it)."""
        self._wake = asyncio.Event()
        self._wake.set()
        self._last_error = ""
        self._footer_shown: tuple[object, ...] = ()

    @property
    def jobs_app(self) -> JobsApp:
        return cast("JobsApp", self.app)

    @property
    def jobs(self) -> BackgroundJobs:
        return self.jobs_app.jobs

    @property
    def health(self) -> Health:
        return self.jobs_app.health

    def palette(self) -> Palette:
        return palette(self.app.theme_variables)

    def now_ms(self) -> int:
        return self.jobs_app.clock.now_ms()

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        app = self.jobs_app
        yield TopBar(
            app.VIEWS, current=self.MODE, title=self.screen_title(), path=app.store_path,
            read_only=app.read_only, id="top-bar",
        )  # fmt: skip
        yield AlertBar(id="alert")
        yield from self.compose_body()
        yield Footer(compact=True, show_command_palette=False)

    @abstractmethod
    def compose_body(self) -> ComposeResult:
        """The widgets between the bars."""

    def screen_title(self) -> str:
        """Shown in the top bar after the views (pushed screens say what they show)."""
        return ""

    def on_mount(self) -> None:
        self.query_one(AlertBar).show(self.health.alert)
        self._refresh_loop()

    def on_screen_resume(self) -> None:
        self.query_one(AlertBar).show(self.health.alert)

    def on_health_changed(self, message: HealthChanged) -> None:
        self.query_one(AlertBar).show(message.health.alert)
        self.health_changed()

    def health_changed(self) -> None:
        """Hook: the engines' health changed (rows that show orphaned jobs redraw)."""

    def refresh_footer(self) -> None:
        """`refresh_bindings` when what the footer shows changed (a key enabled or not):
        the footer rebuilds its keys at each call, ~7 ms, and views refresh every second."""
        shown = tuple(
            (key, active.binding, active.enabled, active.tooltip)
            for key, active in self.active_bindings.items()
        )
        if shown != self._footer_shown:
            self._footer_shown = shown
            self.refresh_bindings()

    # -- refreshing -------------------------------------------------------------------------

    def request_refresh(self) -> None:
        """Refetch at the next poll, even if no other process changed anything (our own
        writes do not change the change token)."""
        self._wake.set()

    @abstractmethod
    async def fetch(self) -> Loaded:
        """Fetch what the view shows (a few API calls, one window at most)."""

    @work(exclusive=True, group="refresh")
    async def _refresh_loop(self) -> None:
        token: int | None = None  # the token of the data shown
        seen: int | None = None  # the token at the previous poll
        streak = 0  # polls in a row that saw a change
        last = -math.inf  # never shown: the first poll shows
        owed = False  # a refresh was asked for: done once the user sees this screen
        while True:
            owed = owed or self._wake.is_set()
            self._wake.clear()
            if self.seen_by_user():
                forced, owed = owed, False
                current = self._token(token)
                streak = streak + 1 if current != seen else 0
                seen = current
                # A store that changes at every poll is shown every two seconds, not at every
                # poll: an operator cannot read faster, and the engines keep their CPU.
                interval = max(self.MIN_INTERVAL, BUSY_SECONDS if streak > 1 else 0.0)
                since = time.monotonic() - last
                tick = self.TICK_SECONDS is not None and since >= self.TICK_SECONDS
                tick = tick and self.ticks()
                if forced or tick or (current != token and since >= interval):
                    token, last = current, time.monotonic()
                    self.post_message(await self._fetch_safely())
            await self._sleep()

    def seen_by_user(self) -> bool:
        """Whether this screen shows: on top, or under screens that let it show through (a
        modal's translucent background). Textual's `is_current` also counts the screen
        under any pushed one, so a list kept refetching under the job detail opened on it."""
        for screen in reversed(self.app.screen_stack):
            if screen is self:
                return True
            if screen.styles.background.a == 1:
                return False
        return False

    def ticks(self) -> bool:
        """Whether what is shown changes with time alone (elapsed clocks, "due in")."""
        return True

    def _token(self, fallback: int | None) -> int | None:
        try:
            return self.jobs.change_token()
        except JobsError:
            return fallback  # the store is closing; keep showing what we have

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

    # -- navigation -------------------------------------------------------------------------

    def action_back(self) -> None:
        """Escape: pushed screens close; views go back to the view shown before."""
        if self.MODE is None:
            self.dismiss()
        else:
            self.jobs_app.go_back()

    # -- job actions ------------------------------------------------------------------------

    def selected_job(self) -> SelectedJob | None:
        """The job under the cursor, if the view has one."""
        return None

    def copy_source(self) -> Job | None:
        """The full job `y` copies from, if the view holds one."""
        return None

    def action_copy(self) -> None:
        job = self.copy_source()
        if job is None:
            return

        def chosen(what: str | None) -> None:
            if what is not None:
                self.app.copy_to_clipboard(copy_text(job, what))
                self.notify(f"Copied the {what} of job {job.id}", timeout=3)

        self.app.push_screen(CopyScreen(job.id), chosen)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MUTATING_ACTIONS and self.jobs_app.read_only:
            return False
        if action == "copy":
            return True if self.copy_source() is not None else None
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
        if job is None or job.state not in CANCELLABLE_STATES or self.jobs_app.refuse_write():
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
        if job is None or job.state not in REQUEUEABLE_STATES or self.jobs_app.refuse_write():
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
