"""The pytest plugin of jobs (registered as a `pytest11` entry point): test-store fixtures.

- `jobs_dir`: a fresh, empty store directory for the test.
- `jobs_clock`: a `ManualClock` at 2030-01-01 00:00 UTC, moved only by the test.
- `jobs_isolated`: call it with your app's facade; for the test, the facade (and every
  command handle on it) uses a store in `jobs_dir` and `jobs_clock`, and its engine runs
  jobs only when drained (`jobs_core.testing.drain`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .clock import ManualClock
from .testing import isolated

if TYPE_CHECKING:
    from .app import BackgroundJobs


@pytest.fixture
def jobs_dir(tmp_path: Path) -> str:
    """A fresh store directory (created on first use)."""
    return str(tmp_path / "jobs_data")


@pytest.fixture
def jobs_clock() -> ManualClock:
    """A clock that moves only when the test moves it."""
    return ManualClock(datetime(2030, 1, 1, tzinfo=UTC))


@pytest.fixture
def jobs_isolated(
    jobs_dir: str, jobs_clock: ManualClock
) -> Iterator[Callable[[BackgroundJobs], BackgroundJobs]]:
    """`jobs_isolated(app_jobs)` points the app's facade at the test store until teardown."""
    with contextlib.ExitStack() as stack:

        def isolate(jobs: BackgroundJobs) -> BackgroundJobs:
            return stack.enter_context(isolated(jobs, jobs_dir, clock=jobs_clock))

        yield isolate
