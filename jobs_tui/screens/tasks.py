"""Scheduled tasks: schedule in words, next and last run, last job's state; run now, pause."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from jobs_core import ScheduledTaskInfo
from jobs_tui.formatting import relative
from jobs_tui.messages import TasksLoaded
from jobs_tui.screens.base import DataScreen
from jobs_tui.widgets.keyed_table import Column, KeyedTable, Row

TASK_COLUMNS: list[Column] = [
    ("name", "Task", 18),
    ("schedule", "Schedule", 26),
    ("command", "Command", 16),
    ("next", "Next run", 11),
    ("last", "Last run", 11),
    ("job", "Last job", 16),
    ("state", "State", 14),
]


def task_row(task: ScheduledTaskInfo, now: int) -> Row:
    last_job = ""
    if task.last_job_id is not None:
        last_job = f"{task.last_job_id} {task.last_job_state or ''}".strip()
    state = task.next_run_text or "active"
    if task.run_now_requested:
        state += ", run now"
    next_run = task.next_run_text or relative(task.next_run_at, now)
    cells = (
        Text(task.name), Text(task.description, no_wrap=True, overflow="ellipsis"),
        Text(task.command), next_run, relative(task.last_run_at, now), last_job, state,
    )  # fmt: skip
    return task.name, cells


class TasksScreen(DataScreen):
    """The scheduled tasks; `n` runs one now, `p` pauses or resumes it."""

    BINDINGS = [
        Binding("n", "run_now", "Run now", id="task.run_now"),
        Binding("p", "toggle_pause", "Pause/resume", id="task.pause"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.tasks: list[ScheduledTaskInfo] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield KeyedTable(TASK_COLUMNS, id="tasks")
        yield Static("", id="tasks-note", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Scheduled tasks"
        self.query_one(KeyedTable).focus()
        super().on_mount()

    async def fetch(self) -> TasksLoaded:
        return TasksLoaded(await self.jobs.scheduled_tasks())

    def on_tasks_loaded(self, message: TasksLoaded) -> None:
        now = self.now_ms()
        self.tasks = message.tasks
        self.query_one(KeyedTable).sync([task_row(t, now) for t in message.tasks])
        self.query_one("#tasks-note", Static).update(f"{len(message.tasks)} tasks")
        self.loaded = True
        self.refresh_bindings()

    def selected_task(self) -> ScheduledTaskInfo | None:
        key = self.query_one(KeyedTable).selected_key
        return next((t for t in self.tasks if t.name == key), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("run_now", "toggle_pause"):
            return True if self.selected_task() is not None else None
        if action == "open_job":
            task = self.selected_task()
            return True if task is not None and task.last_job_id is not None else None
        return super().check_action(action, parameters)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        task = self.selected_task()
        if task is not None and task.last_job_id is not None:
            self.jobs_app.open_job(task.last_job_id)

    def action_run_now(self) -> None:
        task = self.selected_task()
        if task is not None:
            self._task_call(
                f"Run task {task.name} now?", self.jobs.run_task_now, task.name, "will run now"
            )

    def action_toggle_pause(self) -> None:
        task = self.selected_task()
        if task is None:
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
