"""The Queues view and flow control in the lists: keys pause, resume and limit a queue for
every engine (confirmed); the queue list and the detail say why a job waits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Static

from jobs_core import BackgroundJobs, RateLimit
from jobs_tui import JobsApp
from jobs_tui.screens.base import DataScreen
from jobs_tui.screens.confirm import ConfirmScreen
from jobs_tui.screens.detail import JobDetailScreen
from jobs_tui.screens.queue import QueueScreen
from jobs_tui.screens.queue_prompts import (
    ConcurrencyScreen,
    QueueSettingScreen,
    RateLimitScreen,
)
from jobs_tui.screens.queues import QueuesScreen
from jobs_tui.widgets.keyed_table import KeyedTable

from .conftest import pause_until, screen_text, until_loaded


def cell(app: JobsApp, key: str, column: str) -> str:
    table = app.screen.query_one(KeyedTable)
    value = table.get_cell(key, column)
    return value.plain if isinstance(value, Text) else str(value)


def other_process(seeded_dir: str) -> BackgroundJobs:
    """A facade of its own on the store, as another process opens it."""
    return BackgroundJobs(seeded_dir, create=False, start_engine=False)


async def settings_of(seeded_dir: str, name: str) -> tuple[int | None, bool]:
    jobs = other_process(seeded_dir)
    try:
        found = {s.name: s for s in await jobs.queue_settings()}[name]
        return found.concurrency, found.paused
    finally:
        await jobs.close()


async def on_queue(pilot: Pilot[None], name: str) -> DataScreen:
    """The Queues view open, its cursor on queue `name` (from the first row, where it
    opens)."""
    await pilot.press("8")
    screen = await until_loaded(pilot)
    table = screen.query_one(KeyedTable)
    rows = [row.key.value for row in table.ordered_rows]
    await pilot.press(*["down"] * rows.index(name))
    await pause_until(pilot, lambda: table.selected_key == name, f"the cursor on {name}")
    return screen


async def stays_saying(
    pilot: Pilot[None], prompt: type[QueueSettingScreen[Any]], words: str
) -> None:
    """The prompt refused what was typed: it is still up, `words` under its field."""

    def said() -> bool:
        screen = pilot.app.screen
        error = f"#{prompt.PREFIX}-error"
        return isinstance(screen, prompt) and words in str(screen.query_one(error, Static).render())

    await pause_until(pilot, said, f"the prompt to say {words!r}")


async def test_queues_view_lists_every_queue_with_its_settings_and_figures(app: JobsApp) -> None:
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("8")
        screen = await until_loaded(pilot)
        assert isinstance(screen, QueuesScreen)
        table = app.screen.query_one(KeyedTable)
        assert [row.key.value for row in table.ordered_rows] == ["default", "mailer", "reports"]
        assert (cell(app, "mailer", "concurrency"), cell(app, "mailer", "rate")) == (
            "1 (worker)", "30/1m",
        )  # fmt: skip
        assert (cell(app, "reports", "state"), cell(app, "reports", "concurrency")) == (
            "paused", "2",
        )  # fmt: skip
        assert cell(app, "default", "queued") == "6"


async def test_pause_key_confirmed_resumes_a_paused_queue_for_every_process(
    app: JobsApp, seeded_dir: str
) -> None:
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("8")
        await until_loaded(pilot)
        await pilot.press("down", "down")  # reports
        await pilot.press("p")
        await pause_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the modal")
        await pilot.press("y")
        await pause_until(pilot, lambda: cell(app, "reports", "state") == "active", "resumed")
    assert await settings_of(seeded_dir, "reports") == (2, False)


async def test_pause_key_refused_changes_nothing(app: JobsApp, seeded_dir: str) -> None:
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("8")
        await until_loaded(pilot)
        await pilot.press("down", "down", "p")
        await pause_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the modal")
        await pilot.press("n")
        await pause_until(pilot, lambda: isinstance(app.screen, QueuesScreen), "the view")
    assert await settings_of(seeded_dir, "reports") == (2, True)


async def test_concurrency_key_asks_a_number_then_confirms_and_sets_it(
    app: JobsApp, seeded_dir: str
) -> None:
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("8")
        await until_loaded(pilot)
        await pilot.press("e")  # the default queue
        await pause_until(pilot, lambda: isinstance(app.screen, ConcurrencyScreen), "the prompt")
        await pilot.press("0", "enter")  # not a limit: the prompt says so and stays
        await stays_saying(pilot, ConcurrencyScreen, "'0' is not a number")
        await pilot.press("backspace", "3", "enter")
        await pause_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the modal")
        await pilot.press("y")
        await pause_until(pilot, lambda: cell(app, "default", "concurrency") == "3", "limit")
    assert await settings_of(seeded_dir, "default") == (3, False)


async def rate_limit_of(seeded_dir: str, name: str) -> RateLimit | None:
    jobs = other_process(seeded_dir)
    try:
        return {s.name: s for s in await jobs.queue_settings()}[name].rate_limit
    finally:
        await jobs.close()


async def test_rate_limit_key_asks_n_per_window_then_confirms_and_sets_it(
    app: JobsApp, seeded_dir: str
) -> None:
    async with app.run_test(size=(160, 40)) as pilot:
        await on_queue(pilot, "mailer")  # 30/1m, a named worker (its rate can change)
        await pilot.press("r")
        await pause_until(pilot, lambda: isinstance(app.screen, RateLimitScreen), "the prompt")
        assert "Rate limit of queue 'mailer' (now 30/1m)" in screen_text(app)
        await pilot.press(*"100", "enter")  # no window: the prompt says so and stays
        await stays_saying(pilot, RateLimitScreen, "expected N/WINDOW such as 100/1m")
        await pilot.press(*"/2s", "enter")
        await pause_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the modal")
        assert "at most 100 starts every 2s" in screen_text(app)
        await pilot.press("y")
        await pause_until(pilot, lambda: cell(app, "mailer", "rate") == "100/2s", "the limit")
    assert await rate_limit_of(seeded_dir, "mailer") == RateLimit(100, per=timedelta(seconds=2))


async def test_rate_limit_key_none_removes_the_limit_and_escape_changes_nothing(
    app: JobsApp, seeded_dir: str
) -> None:
    async with app.run_test(size=(160, 40)) as pilot:
        await on_queue(pilot, "mailer")
        await pilot.press("r")
        await pause_until(pilot, lambda: isinstance(app.screen, RateLimitScreen), "the prompt")
        await pilot.press("escape")
        await pause_until(pilot, lambda: isinstance(app.screen, QueuesScreen), "the view")
        assert await rate_limit_of(seeded_dir, "mailer") == RateLimit(30, per=timedelta(minutes=1))
        await pilot.press("r")
        await pause_until(pilot, lambda: isinstance(app.screen, RateLimitScreen), "the prompt")
        await pilot.press(*"none", "enter")
        await pause_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the modal")
        assert "no rate limit" in screen_text(app)
        await pilot.press("y")
        await pause_until(pilot, lambda: cell(app, "mailer", "rate") == "-", "no limit")
    assert await rate_limit_of(seeded_dir, "mailer") is None


async def test_concurrency_key_does_not_apply_to_a_named_worker(app: JobsApp) -> None:
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await on_queue(pilot, "mailer")  # a named worker: one at a time
        assert screen.check_action("set_concurrency", ()) is None
        assert screen.check_action("toggle_pause", ()) is True


async def test_queue_list_and_detail_say_a_job_waits_for_its_paused_queue(
    app: JobsApp, seeded_dir: str
) -> None:
    jobs = other_process(seeded_dir)
    await jobs.pause_queue("default")
    await jobs.close()
    async with app.run_test(size=(200, 40)) as pilot:
        await pilot.press("2")
        screen = await until_loaded(pilot)
        assert isinstance(screen, QueueScreen)
        await pause_until(pilot, lambda: cell(app, "10", "status") == "queue paused", "reason")
        assert (cell(app, "10", "queue"), cell(app, "15", "queue")) == ("default", "mailer")
        await pilot.press("enter")
        detail = await until_loaded(pilot)
        assert isinstance(detail, JobDetailScreen)
        await pause_until(pilot, lambda: "queue 'default' is" in screen_text(app), "the reason")
        shown = [" ".join(line.split()) for line in screen_text(app).splitlines()]
    assert any(line.startswith("waiting scheduled to run in 114 min; queue 'default' is")
               for line in shown)  # fmt: skip
    assert any(line.startswith("queue default ") for line in shown)
