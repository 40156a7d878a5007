"""What the admin app refetches: only the screens the user sees, and a refresh asked of a
hidden one waits for it to show (without spinning meanwhile)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from jobs_tui import JobsApp
from jobs_tui.screens.base import DataScreen
from jobs_tui.screens.detail import JobDetailScreen
from jobs_tui.widgets.detail_panes import Pane

from .conftest import pause_until, until_loaded


class Calls:
    """Counts the calls of one screen's method (wrapped on the instance)."""

    def __init__(self, screen: DataScreen, name: str) -> None:
        self.calls = 0
        method: Callable[..., Any] = getattr(screen, name)

        def counted(*args: Any) -> Any:
            self.calls += 1
            return method(*args)

        setattr(screen, name, counted)


async def until_detail(pilot: Pilot[None]) -> JobDetailScreen:
    await pause_until(
        pilot, lambda: isinstance(pilot.app.screen, JobDetailScreen), "the job's detail"
    )
    screen = await until_loaded(pilot)
    assert isinstance(screen, JobDetailScreen)
    return screen


async def test_a_list_under_the_detail_opened_on_it_does_not_refetch(app: JobsApp) -> None:
    # Textual's `is_current` counts the screen under a pushed one as current: the queue
    # view went on refetching and redrawing every second under the job's detail.
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        queue = await until_loaded(pilot)
        await pilot.press("enter")
        detail = await until_detail(pilot)
        fetched, polled = Calls(queue, "fetch"), Calls(detail, "_token")
        # 30 polls of 0.05 s: past the queue view's tick of 1 s, when it would refetch.
        await pause_until(pilot, lambda: polled.calls >= 30, "30 polls of the detail")
        assert fetched.calls == 0
        await pilot.press("escape")
        await pause_until(pilot, lambda: fetched.calls >= 1, "the queue view to refetch")


async def test_a_refresh_asked_of_a_hidden_view_waits_for_it_without_spinning(
    app: JobsApp,
) -> None:
    # A hidden screen asked to refresh (an action it started ends after the user moved
    # on) set its own wake-up again at every turn: a busy loop, a core's worth of CPU.
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3", "enter")  # a completed job: its detail never ticks
        detail = await until_detail(pilot)
        await pilot.press("2")
        queue = await until_loaded(pilot)
        slept, fetched = Calls(detail, "_sleep"), Calls(detail, "fetch")
        polled = Calls(queue, "_token")
        detail.request_refresh()
        await pause_until(pilot, lambda: polled.calls >= 20, "20 polls of the queue view")
        assert slept.calls <= 2 * polled.calls + 10, "the hidden screen's loop spun"
        assert fetched.calls == 0
        await pilot.press("3")
        await pause_until(pilot, lambda: app.screen is detail, "the detail shown again")
        await pause_until(pilot, lambda: fetched.calls >= 1, "the refresh it was asked")


async def test_a_refetch_that_finds_nothing_new_redraws_no_pane_and_not_the_footer(
    app: JobsApp,
) -> None:
    # Each refresh rebuilt the footer's keys and redrew every pane of the detail (a layout
    # each): the detail of a running job, refreshed every second, cost ~7% of a core.
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3", "enter")
        detail = await until_detail(pilot)
        panes = [detail.query_one(f"#{name}", Pane) for name in PANES]
        updates = [Calls(pane, "update") for pane in panes]
        footer = Calls(detail, "refresh_bindings")
        shown = detail.result
        detail.request_refresh()
        await pause_until(pilot, lambda: detail.result is not shown, "a refetch shown")
        await pilot.pause()
        assert [u.calls for u in updates] == [0] * len(PANES)
        assert footer.calls == 0


PANES = ("fields-body", "request", "response", "error", "relations", "log-title")
