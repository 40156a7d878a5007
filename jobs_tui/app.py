"""`JobsApp`: the Textual admin app over a `BackgroundJobs` store (no engine of its own)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App
from textual.binding import Binding

from jobs_core import BackgroundJobs, Clock
from jobs_tui.commands import JobsCommands
from jobs_tui.screens.archive import CompletedScreen, FailedScreen
from jobs_tui.screens.dashboard import DashboardScreen
from jobs_tui.screens.detail import JobDetailScreen
from jobs_tui.screens.help import HelpScreen
from jobs_tui.screens.queue import QueueScreen
from jobs_tui.screens.tasks import TasksScreen
from jobs_tui.screens.workers import WorkersScreen
from jobs_tui.themes import THEMES, other_theme


class JobsApp(App[None]):
    """Dashboard, queue, completed, failed, scheduled tasks and workers, one mode each."""

    CSS_PATH = "jobs.tcss"
    TITLE = "jobs admin"

    MODE_KEYS: ClassVar[list[tuple[str, str, str]]] = [
        ("1", "dashboard", "Dash"),
        ("2", "queue", "Queue"),
        ("3", "completed", "Done"),
        ("4", "failed", "Failed"),
        ("5", "tasks", "Tasks"),
        ("6", "workers", "Workers"),
    ]
    MODES: ClassVar = {
        "dashboard": DashboardScreen,
        "queue": QueueScreen,
        "completed": CompletedScreen,
        "failed": FailedScreen,
        "tasks": TasksScreen,
        "workers": WorkersScreen,
    }
    DEFAULT_MODE = "dashboard"
    COMMANDS = App.COMMANDS | {JobsCommands}

    BINDINGS: ClassVar = [
        *(
            Binding(key, f"app.switch_mode('{mode}')", title, id=f"mode.{mode}")
            for key, mode, title in MODE_KEYS
        ),
        Binding("question_mark", "app.help", "Help", id="app.help"),
        Binding("t", "app.toggle_theme", "Theme", id="app.theme", show=False),
        Binding("q", "app.quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        jobs: BackgroundJobs,
        *,
        clock: Clock | None = None,
        poll_interval: float = 0.2,
        title: str | None = None,
    ) -> None:
        super().__init__()
        self.jobs = jobs
        self.title = title or f"{self.TITLE} · {jobs.location}"
        """The store in the header (a URL's password masked), unless a title is given."""
        self.clock: Clock = clock or jobs.clock
        """Shown times ("ago", elapsed) come from here, so snapshots can fix it."""
        self.poll_interval = poll_interval
        """How often each visible view checks the store's change token (seconds)."""
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = THEMES[0].name

    def open_job(self, job_id: int) -> None:
        """Push the detail screen of a job."""
        self.push_screen(JobDetailScreen(job_id))

    def action_toggle_theme(self) -> None:
        self.theme = other_theme(self.theme)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        keys: list[tuple[str, str]] = []
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if binding.description and binding.action != "command_palette":
                keys.append((self.get_key_display(binding) or key, binding.description))
        keys.append(("ctrl+p", "Command palette"))
        self.push_screen(HelpScreen(keys))
