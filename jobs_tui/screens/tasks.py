"""Scheduled tasks: schedule in words, next and last run, last job's state; run now, pause."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from jobs_core import ScheduledTaskInfo
from jobs_tui.formatting import relative
from jobs_tui.messages import TasksLoaded
from jobs_tui.screens.base import DataScreen
from jobs_tui.themes import Palette
from jobs_tui.widgets.keyed_table import Cells, Column, KeyedTable, Row

TASK_COLUMNS: list[Column] = [
    Column("name", "Task", 12, grow=2, keep=10, most=40),
    Column("state", "State", 7, keep=9),
    Column("schedule", "Schedule", 16, grow=4, keep=7),
    Column("command", "Command", 12, grow=1, keep=5, most=32),
    Column("next", "Next run", 10, keep=8),
    Column("last", "Last run", 10, keep=4),
    Column("job", "Last job", 14, keep=3),
]


def task_row(task: ScheduledTaskInfo, now: int, palette: Palette) -> Row:
    last_job = ""
    if task.last_job_id is not None:
        last_job = f"#{task.last_job_id} {task.last_job_state or ''}".strip()
    # A paused or ended task shows so instead of a next run time.
    stopped = task.next_run_text
    state = Text(stopped, style=palette["warning"]) if stopped else Text("active")
    if task.run_now_requested:
        state.append(" +now", style=palette["accent"])
    cells: Cells = {
        "name": _cell(task.name), "schedule": _cell(task.description),
        "command": _cell(task.command), "next": stopped or relative(task.next_run_at, now),
        "last": relative(task.last_run_at, now), "job": last_job, "state": state,
    }  # fmt: skip
    return task.name, cells


def _cell(text: str) -> Text:
    return Text(text, no_wrap=True, overflow="ellipsis")


class TasksScreen(DataScreen):
    """The scheduled tasks; `n` runs one now, `p` pauses or resumes it."""

    MODE = "tasks"
    BINDINGS = [
        Binding("enter", "open_job", "Last job", id="task.open"),
        Binding("n", "run_now", "Run now", id="task.run_now"),
        Binding("p", "toggle_pause", "Pause/resume", id="task.pause"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.tasks: list[ScheduledTaskInfo] = []

    def compose_body(self) -> ComposeResult:
        yield KeyedTable(TASK_COLUMNS, id="tasks")
        yield Static("", id="tasks-note", markup=False)

    def on_mount(self) -> None:
        self.query_one(KeyedTable).focus()
        super().on_mount()

    async def fetch(self) -> TasksLoaded:
        return TasksLoaded(await self.jobs.scheduled_tasks())

    def on_tasks_loaded(self, message: TasksLoaded) -> None:
        now = self.now_ms()
        self.tasks = message.tasks
        palette = self.palette()
        self.query_one(KeyedTable).sync([task_row(t, now, palette) for t in message.tasks])
        count = len(message.tasks)
        self.query_one("#tasks-note", Static).update(f"{count} task{'' if count == 1 else 's'}")
        self.loaded = True
        self.refresh_footer()

    def selected_task(self) -> ScheduledTaskInfo | None:
        key = self.query_one(KeyedTable).selected_key
        return next((t for t in self.tasks if t.name == key), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("run_now", "toggle_pause") and not self.jobs_app.read_only:
            return True if self.selected_task() is not None else None
        if action == "open_job":
            task = self.selected_task()
            return True if task is not None and task.last_job_id is not None else None
        return super().check_action(action, parameters)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_footer()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_job()

    def action_open_job(self) -> None:
        task = self.selected_task()
        if task is not None and task.last_job_id is not None:
            self.jobs_app.open_job(task.last_job_id)

    def action_run_now(self) -> None:
        task = self.selected_task()
        if task is not None and not self.jobs_app.refuse_write():
            self._task_call(
                f"Run task {task.name} now?", self.jobs.run_task_now, task.name, "will run now"
            )

    def action_toggle_pause(self) -> None:
        task = self.selected_task()
        if task is None or self.jobs_app.refuse_write():
            return
        if task.paused:
            self._task_call(
                f"Resume task {task.name}?", self.jobs.resume_task, task.name, "resumed"
            )
        else:
            self._task_call(f"Pause task {task.name}?", self.jobs.pause_task, task.name, "paused")

    def _task_call(
        self, question: str, call: Callable[[str], Awaitable[object]], name: str, done: str
    ) -> None:
        async def perform() -> str:
            await call(name)
            return f"Task {name} {done}"

        self.confirm_then(question, perform)
