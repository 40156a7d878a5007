"""`JobsApp`: the Textual admin app over a `BackgroundJobs` store (no engine of its own)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding

from jobs_core import BackgroundJobs, Clock, JobsError
from jobs_tui.commands import JobsCommands
from jobs_tui.health import Health, check
from jobs_tui.messages import HealthChanged
from jobs_tui.screens.archive import CompletedScreen, FailedScreen
from jobs_tui.screens.batch import BatchScreen
from jobs_tui.screens.commands_view import CommandsScreen
from jobs_tui.screens.dashboard import DashboardScreen
from jobs_tui.screens.detail import JobDetailScreen
from jobs_tui.screens.help import HelpScreen, help_groups
from jobs_tui.screens.jump import JumpScreen
from jobs_tui.screens.queue import QueueScreen
from jobs_tui.screens.queues import QueuesScreen
from jobs_tui.screens.tasks import TasksScreen
from jobs_tui.screens.tree import TreeScreen
from jobs_tui.screens.workers import WorkersScreen
from jobs_tui.themes import THEMES, other_theme
from jobs_tui.widgets.chrome import View

KNOWN_VALUES = 500
"""Most values remembered per query key for completion."""
HEALTH_SECONDS = 2.0
"""How often the app checks that engines serve the store."""


class JobsApp(App[None]):
    """Dashboard, queue, completed, failed, scheduled tasks and workers, one mode each."""

    CSS_PATH = "jobs.tcss"
    TITLE = "jobs admin"

    VIEWS: ClassVar[list[View]] = [
        ("1", "dashboard", "Dashboard", "Dash"),
        ("2", "queue", "Queue", "Queue"),
        ("3", "completed", "Completed", "Done"),
        ("4", "failed", "Failed", "Failed"),
        ("5", "tasks", "Tasks", "Tasks"),
        ("6", "workers", "Workers", "Workers"),
        ("7", "commands", "Commands", "Cmds"),
        ("8", "queues", "Queues", "Queues"),
    ]
    MODES: ClassVar = {
        "dashboard": DashboardScreen,
        "queue": QueueScreen,
        "completed": CompletedScreen,
        "failed": FailedScreen,
        "tasks": TasksScreen,
        "workers": WorkersScreen,
        "commands": CommandsScreen,
        "queues": QueuesScreen,
    }
    DEFAULT_MODE = "dashboard"
    COMMANDS = App.COMMANDS | {JobsCommands}

    BINDINGS: ClassVar = [
        *(
            Binding(key, f"app.show('{mode}')", title, show=False, id=f"mode.{mode}")
            for key, mode, title, _ in VIEWS
        ),
        Binding("colon", "app.jump", "Open job by id", show=False, id="app.jump"),
        Binding("question_mark", "app.help", "Help", id="app.help"),
        Binding("t", "app.toggle_theme", "Theme", show=False, id="app.theme"),
        Binding("q", "app.quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        jobs: BackgroundJobs,
        *,
        clock: Clock | None = None,
        poll_interval: float = 0.2,
        read_only: bool = False,
        store_label: str | None = None,
    ) -> None:
        super().__init__()
        self.jobs = jobs
        self.clock: Clock = clock or jobs.clock
        """Shown times ("ago", elapsed) come from here, so snapshots can fix it."""
        self.poll_interval = poll_interval
        """How often each visible view checks the store's change token (seconds)."""
        self.read_only = read_only or jobs.read_only
        """Hide and refuse every action that changes the store."""
        self.store_path = store_label or jobs.location
        """How the top bar names the store (its directory or masked URL, unless given)."""
        self.title = f"{self.TITLE} · {self.store_path}"
        """The terminal's title names the store too (a URL's password masked)."""
        self.health = Health()
        self.known: dict[str, list[str]] = {}
        """Values the filter input completes, by query key (from the engines' registrations)."""
        self._history: list[str] = []
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = THEMES[0].name

    def on_mount(self) -> None:
        self._watch_health()

    # -- navigation -------------------------------------------------------------------------

    def action_show(self, mode: str) -> None:
        """Switch to a view, remembering the one we leave for escape."""
        if mode == self.current_mode:
            return
        self._history.append(self.current_mode)
        del self._history[:-20]
        self.switch_mode(mode)

    def go_back(self) -> None:
        """Back to the view shown before this one (the dashboard when there is none)."""
        target = self._history.pop() if self._history else self.DEFAULT_MODE
        if target != self.current_mode:
            self.switch_mode(target)

    def open_job(self, job_id: int) -> None:
        """Push the detail screen of a job."""
        self.push_screen(JobDetailScreen(job_id))

    def open_batch(self, batch_id: str) -> None:
        """Push the view of a batch: its progress and its jobs."""
        self.push_screen(BatchScreen(batch_id))

    def open_tree(self, job_id: int) -> None:
        """Push the dependency tree of a job."""
        self.push_screen(TreeScreen(job_id))

    def action_jump(self) -> None:
        """`:`: ask for a job id and open it."""

        def chosen(job_id: int | None) -> None:
            if job_id is not None:
                self.jump_to(job_id)

        self.push_screen(JumpScreen(), chosen)

    def jump_to(self, job_id: int) -> None:
        """Open job `job_id`, or say there is none."""
        self.run_worker(self._jump(job_id), group="jump")

    async def _jump(self, job_id: int) -> None:
        try:
            await self.jobs.get_job(job_id)
        except JobsError as error:
            self.notify(str(error), title="Not found", severity="error")
            return
        self.open_job(job_id)

    def learn(self, values: Mapping[str, Iterable[str]]) -> None:
        """Remember values seen (commands, tags…) so the filter input can complete them."""
        for key, seen in values.items():
            known = set(self.known.get(key, ()))
            known.update(v for v in seen if v)
            if len(known) <= KNOWN_VALUES:
                self.known[key] = sorted(known)

    def refuse_write(self) -> bool:
        """In read-only mode: say so and return True."""
        if self.read_only:
            self.notify("The admin app is read-only: nothing was changed", severity="warning")
        return self.read_only

    def action_toggle_theme(self) -> None:
        self.theme = other_theme(self.theme)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(help_groups(self.screen, self)))

    # -- engines' health --------------------------------------------------------------------

    @work(exclusive=True, group="health")
    async def _watch_health(self) -> None:
        while True:
            try:
                engines = await self.jobs.engines()
                running = await self.jobs.running_jobs()
            except JobsError:
                engines, running = [], []
            self.learn({"command": [c for e in engines for c in e.commands],
                        "worker": [w for e in engines for w in e.workers]})  # fmt: skip
            health = check(engines, running, self.clock.now_ms())
            if health != self.health:
                self.health = health
                self.screen.post_message(HealthChanged(health))
            await asyncio.sleep(HEALTH_SECONDS)
