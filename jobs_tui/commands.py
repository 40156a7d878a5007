"""The command palette provider: every screen and every action of the admin app."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from jobs_tui.app import JobsApp

SCREEN_ACTIONS = [
    ("cancel", "Cancel the selected or marked jobs", "Cancel queued or running jobs (asks first)"),
    ("requeue", "Requeue the selected or marked jobs", "Requeue failed or cancelled jobs (asks)"),
    ("delete", "Delete the selected or marked jobs", "Delete finished jobs for good (asks first)"),
    ("open_job", "Open the selected job", "Show every field, the log tail and relations"),
    ("filter", "Filter jobs", "state:failed command:import* tag:x since:2h, words search text"),
    ("load_more", "Load more jobs", "Fetch the next page of this list"),
    ("top", "Go to the top of the list", "Follow the newest jobs again"),
    ("mark", "Mark the selected job", "Bulk actions apply to the marked jobs"),
    ("mark_loaded", "Mark every loaded job", "ctrl+a"),
    ("mark_matching", "Mark every job matching the filter", "In every month (A)"),
    ("sort", "Sort by the next column", "Sorts the loaded rows (s; S reverses)"),
    ("copy", "Copy the job", "As JSON, its id, its error or its request (y)"),
    ("tree", "Show the job's relations", "What it waits for, what runs after it (t)"),
    ("batch", "Show the job's batch", "The batch's progress and its jobs (b)"),
    ("run_now", "Run the selected task now", "Enqueue the scheduled task now (asks first)"),
    ("toggle_pause", "Pause or resume the selected task", "Stop or restart its schedule"),
    ("back", "Back", "Close the job detail"),
]
"""(action, palette title, help) offered when the current screen can do them now."""

Command = tuple[str, str, Callable[[], Any]]
JOB_ID = re.compile(r"^(?:job\s*)?#?(\d+)$", re.IGNORECASE)
"""What opens a job from the palette: `1234`, `#1234`, `job 1234`."""
BATCH = re.compile(r"^batch\s+(\S+)$", re.IGNORECASE)
"""What opens a batch from the palette: `batch b-photos`."""


class JobsCommands(Provider):
    """Screens, theme, help and the actions that apply on the current screen."""

    def _commands(self) -> list[Command]:
        app = cast("JobsApp", self.app)
        commands: list[Command] = [
            (f"Show {title}", f"Switch to the {title.lower()} view (key {key})",
             partial(app.action_show, mode))
            for key, mode, title, _ in app.VIEWS
        ]  # fmt: skip
        commands += [
            ("Toggle dark/light theme", "Switch between jobs-dark and jobs-light",
             app.action_toggle_theme),
            ("Help", "Show the keys of this screen", app.action_help),
            ("Open a job by id", "Type its id (key :); or type \"job 1234\" here",
             app.action_jump),
            ("Quit", "Leave the admin app", app.exit),
        ]  # fmt: skip
        screen = self.screen
        for action, title, help_text in SCREEN_ACTIONS:
            if hasattr(screen, f"action_{action}") and screen.check_action(action, ()):
                commands.append((title, help_text, partial(screen.run_action, action)))
        return commands

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        batch = BATCH.match(query.strip())
        if batch:
            app = cast("JobsApp", self.app)
            name = batch.group(1)
            yield Hit(1.0, f"Open batch {name}", partial(app.open_batch, name),
                      help="Its progress and its jobs")  # fmt: skip
        jump = JOB_ID.match(query.strip())
        if jump:
            app = cast("JobsApp", self.app)
            job_id = int(jump.group(1))
            yield Hit(1.0, f"Open job {job_id}", partial(app.jump_to, job_id),
                      help="Its detail: every field, the log, relations")  # fmt: skip
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
