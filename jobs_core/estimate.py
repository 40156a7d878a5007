"""Progress estimates for running jobs that report none: elapsed time over the median
duration of their command's recent completions (a bounded, indexed read, cached)."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .records import Job, JobState, RunningJob

SAMPLE = 25
"""Recent completions the median is taken over."""
CACHE_SECS = 60.0
"""How long a command's median is reused before it is read again."""
CEILING = 0.99
"""An estimate never reads done: the job is still running."""

T = TypeVar("T", Job, RunningJob)


def median_ms(durations: list[int]) -> int | None:
    """The median duration, or None when there is none to go by."""
    positive = [d for d in durations if d > 0]
    return round(statistics.median(positive)) if positive else None


def estimated(elapsed_ms: int, median: int | None) -> float | None:
    """The share of a typical run that `elapsed_ms` covers, below 1; None without a median."""
    if median is None:
        return None
    return max(0.0, min(CEILING, elapsed_ms / median))


class ProgressEstimator:
    """Fills in `progress` (and `progress_estimated`) of running jobs without one, from the
    median duration of each command's recent completions, read at most once a minute."""

    def __init__(self, durations: Callable[[str, int], Awaitable[list[int]]]) -> None:
        self._durations = durations
        self._medians: dict[str, tuple[float, int | None]] = {}

    async def fill(self, jobs: list[T], now_ms: int) -> list[T]:
        """`jobs` with an estimate on each running one that reports no progress."""
        out: list[T] = []
        for job in jobs:
            if job.progress is not None or job.started_date is None or not _running(job):
                out.append(job)
                continue
            guess = estimated(now_ms - job.started_date, await self._median(job.command))
            if guess is None:
                out.append(job)
            else:
                out.append(dataclasses.replace(job, progress=guess, progress_estimated=True))
        return out

    async def _median(self, command: str) -> int | None:
        cached = self._medians.get(command)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        value = median_ms(await self._durations(command, SAMPLE))
        self._medians[command] = (now + CACHE_SECS, value)
        return value


def _running(job: Job | RunningJob) -> bool:
    return not isinstance(job, Job) or job.state is JobState.STARTED
