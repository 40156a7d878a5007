"""Fixtures for the admin app: a seeded store, a facade on it, and waiting on the app."""

from __future__ import annotations

import asyncio
import io
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.console import Console
from textual.app import App
from textual.command import Command, CommandList, CommandPalette
from textual.css.query import NoMatches
from textual.pilot import Pilot

from jobs_core import BackgroundJobs
from jobs_tui import JobsApp
from jobs_tui.demo_seed import seed_clock, seed_store
from jobs_tui.screens.base import DataScreen


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The deterministic demo store, seeded once per test process (it takes seconds)."""
    directory = str(tmp_path_factory.mktemp("template") / "seeded")
    asyncio.run(seed_store(directory))
    return directory


@pytest.fixture
def seeded_dir(seeded_template: str, tmp_path: Path) -> str:
    """A fresh copy of the deterministic demo store (no process has it open)."""
    directory = str(tmp_path / "seeded")
    shutil.copytree(seeded_template, directory, ignore=shutil.ignore_patterns("*-shm"))
    return directory


@pytest.fixture
def admin(seeded_dir: str) -> Iterator[BackgroundJobs]:
    """A facade on the seeded store without an engine, as the admin app opens it."""
    jobs = BackgroundJobs(seeded_dir, create=False, start_engine=False, clock=seed_clock())
    yield jobs
    asyncio.run(jobs.close())


@pytest.fixture
def app(admin: BackgroundJobs) -> JobsApp:
    """The app on the seeded store with the seed's fixed clock and a quick poll."""
    return JobsApp(admin, clock=seed_clock(), poll_interval=0.05, store_label="./seeded")


async def pause_until(
    pilot: Pilot[None], predicate: Callable[[], bool], what: str, timeout: float = 10.0
) -> None:
    """Let the app run until `predicate` holds; fail naming `what` after `timeout`.

    A predicate that queries a widget the active screen does not have (yet) is not true
    yet: under load a modal may still be on top (the bulk progress, a question) or a screen
    not composed, and the query raises `NoMatches`. The last one is chained to the timeout.
    """
    deadline = time.monotonic() + timeout
    missing: NoMatches | None = None
    while True:
        try:
            if predicate():
                return
        except NoMatches as error:
            missing = error
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}") from missing
        await pilot.pause(0.05)


async def until_loaded(pilot: Pilot[None]) -> DataScreen:
    """Wait until the current screen has shown its first data; return it."""

    def loaded() -> bool:
        screen = pilot.app.screen
        return isinstance(screen, DataScreen) and screen.loaded

    await pause_until(pilot, loaded, f"{type(pilot.app.screen).__name__} to load")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, DataScreen)
    return screen


async def until_palette_offers(pilot: Pilot[None], text: str) -> None:
    """Wait until the command palette has finished searching what was typed and highlights
    the hit `text`, so that enter picks it (the search runs in a worker and shows its hits in
    batches, each batch highlighting its best hit again)."""

    def offered() -> bool:
        palette = pilot.app.screen
        if not isinstance(palette, CommandPalette):
            return False
        searching = any(
            worker.group == CommandPalette._GATHER_COMMANDS_GROUP and not worker.is_finished
            for worker in pilot.app.workers
        )
        hits = palette.query_one(CommandList)
        if searching or hits.highlighted is None:
            return False
        option = hits.get_option_at_index(hits.highlighted)
        return isinstance(option, Command) and option.hit.text == text

    await pause_until(pilot, offered, f"the palette to offer {text!r}")


def screen_text(app: App[None]) -> str:
    """The plain text the terminal shows now (what a user reads), line by line."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True,
        color_system="truecolor", record=True, legacy_windows=False, safe_box=False,
    )  # fmt: skip
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()
