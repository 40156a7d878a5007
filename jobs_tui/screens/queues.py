"""The queues view: per queue its concurrency, running and queued jobs, pause state, rate
limit and current rate, jobs finished and failed in the last 15 minutes; keys to pause or
resume a queue and to change its concurrency or rate limit (confirmed; every engine applies
it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from jobs_core import QueueInfo, QueueSettings, RateLimit
from jobs_core.flow_records import format_window
from jobs_tui.messages import QueuesLoaded
from jobs_tui.screens.base import DataScreen
from jobs_tui.screens.queue_prompts import (
    ConcurrencyScreen,
    Limit,
    QueueSettingScreen,
    RateLimitScreen,
    V,
)
from jobs_tui.themes import Palette
from jobs_tui.widgets.keyed_table import Cells, Column, KeyedTable, Row

QUEUE_TABLE: list[Column] = [
    Column("queue", "Queue", 12, grow=1, keep=10, most=40),
    Column("state", "State", 7, keep=9),
    Column("concurrency", "Concurrency", 11, keep=8, right=True),
    Column("running", "Running", 7, keep=7, right=True),
    Column("queued", "Queued", 7, keep=6, right=True),
    Column("rate", "Rate limit", 10, keep=4, right=True),
    Column("now", "Rate now", 9, keep=3, right=True),
    Column("done", "Done 15m", 8, keep=5, right=True),
    Column("failed", "Failed 15m", 10, keep=2, right=True),
]
NOTE = (
    "Limits hold across every engine of the store and apply at their next claim; running "
    "jobs finish. p pause/resume, e concurrency, r rate limit (each confirmed)."
)


def _number(value: int) -> Text:
    return Text(f"{value:,}", justify="right")


def queue_row(q: QueueInfo, palette: Palette) -> Row:
    """One queue: its settings and figures."""
    concurrency = "1 (worker)" if q.worker else "-" if q.concurrency is None else str(q.concurrency)
    rate = str(q.rate_limit) if q.rate_limit else "-"
    now = "-"
    if q.rate_limit is not None and q.recent_starts is not None:
        now = f"{q.recent_starts}/{format_window(q.rate_limit.per_ms)}"
    state = Text("paused", style=palette["warning"] + " bold") if q.paused else Text("active")
    failed = Text(f"{q.failed_15m:,}", justify="right",
                  style=palette["error"] if q.failed_15m else "")  # fmt: skip
    cells: Cells = {
        "queue": Text(q.name, no_wrap=True, overflow="ellipsis"), "state": state,
        "concurrency": Text(concurrency, justify="right"), "running": _number(q.running),
        "queued": _number(q.queued), "rate": Text(rate, justify="right"),
        "now": Text(now, justify="right"), "done": _number(q.finished_15m), "failed": failed,
    }  # fmt: skip
    return q.name, cells


class QueuesScreen(DataScreen):
    """Every queue with jobs, settings or recent finishes; refreshed on change."""

    MODE = "queues"
    TICK_SECONDS = 2.0

    BINDINGS: ClassVar = [
        Binding("p", "toggle_pause", "Pause/resume", id="queue.pause"),
        Binding("e", "set_concurrency", "Concurrency", id="queue.concurrency"),
        Binding("r", "set_rate_limit", "Rate limit", id="queue.rate_limit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.queues: dict[str, QueueInfo] = {}

    def compose_body(self) -> ComposeResult:
        yield KeyedTable(QUEUE_TABLE, id="queues")
        yield Static(NOTE, classes="list-footer", id="queues-note")

    def on_mount(self) -> None:
        self.query_one(KeyedTable).focus()
        super().on_mount()

    async def fetch(self) -> QueuesLoaded:
        return QueuesLoaded(await self.jobs.queues())

    def on_queues_loaded(self, message: QueuesLoaded) -> None:
        self.queues = {q.name: q for q in message.queues}
        palette = self.palette()
        self.query_one(KeyedTable).sync([queue_row(q, palette) for q in message.queues])
        self.loaded = True
        self.refresh_footer()

    def selected_queue(self) -> QueueInfo | None:
        key = self.query_one(KeyedTable).selected_key
        return self.queues.get(key) if key is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_pause", "set_concurrency", "set_rate_limit"):
            if self.jobs_app.read_only:
                return False
            queue = self.selected_queue()
            if queue is None or (action == "set_concurrency" and queue.worker):
                return None
        return super().check_action(action, parameters)

    def action_toggle_pause(self) -> None:
        queue = self.selected_queue()
        if queue is None or self.jobs_app.refuse_write():
            return
        if queue.paused:
            question = f"Resume queue '{queue.name}'? Its engines start its jobs again."
        else:
            question = (
                f"Pause queue '{queue.name}'? No engine starts its jobs until it is resumed; "
                "running jobs finish."
            )
        self.confirm_then(question, lambda: self._pause(queue.name, not queue.paused))

    async def _pause(self, name: str, paused: bool) -> str:
        settings = await self.jobs.set_queue(name, paused=paused)
        return f"Queue '{name}' {'paused' if settings.paused else 'resumed'}"

    def action_set_concurrency(self) -> None:
        queue = self.selected_queue()
        if queue is None or queue.worker or self.jobs_app.refuse_write():
            return
        self._ask_then_set(
            ConcurrencyScreen(queue.name, queue.concurrency),
            lambda limit: "no limit" if limit is None else f"at most {limit} running at once",
            lambda limit: self._concurrency(queue.name, limit),
        )

    async def _concurrency(self, name: str, limit: int | None) -> str:
        settings: QueueSettings = await self.jobs.set_queue(name, concurrency=limit)
        shown = "no limit" if settings.concurrency is None else str(settings.concurrency)
        return f"Queue '{name}': concurrency {shown}"

    def action_set_rate_limit(self) -> None:
        queue = self.selected_queue()
        if queue is None or self.jobs_app.refuse_write():
            return
        self._ask_then_set(
            RateLimitScreen(queue.name, queue.rate_limit),
            lambda rate: "no rate limit" if rate is None
            else f"at most {rate.limit} starts every {format_window(rate.per_ms)}",
            lambda rate: self._rate_limit(queue.name, rate),
        )  # fmt: skip

    async def _rate_limit(self, name: str, rate: RateLimit | None) -> str:
        settings: QueueSettings = await self.jobs.set_queue(name, rate_limit=rate)
        shown = "no limit" if settings.rate_limit is None else str(settings.rate_limit)
        return f"Queue '{name}': rate limit {shown}"

    def _ask_then_set(
        self,
        prompt: QueueSettingScreen[V],
        words: Callable[[V | None], str],
        apply: Callable[[V | None], Awaitable[str]],
    ) -> None:
        """Ask with `prompt`; the value typed (None: no limit) is confirmed, in `words`, then
        applied for every engine (`apply` says what it did)."""

        def chosen(typed: Limit[V] | None) -> None:
            if typed is not None:
                value = typed.value
                self.confirm_then(
                    f"Set queue '{prompt.queue}' to {words(value)}, across every engine?",
                    lambda: apply(value),
                )

        self.app.push_screen(prompt, chosen)
