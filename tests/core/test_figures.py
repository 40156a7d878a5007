"""Per-command figures from duration histograms: buckets, percentiles, aggregation."""

from __future__ import annotations

import pytest

from jobs_core import JobState
from jobs_core.figures import (
    DURATION_BOUNDS_MS,
    NO_DURATION,
    bucket_of,
    command_figures,
    percentile,
)
from jobs_core.store.protocol import DurationTally


@pytest.mark.parametrize(
    ("ms", "bucket"),
    [(None, NO_DURATION), (0, 0), (1, 1), (4, 2), (5, 3), (999, 9), (1000, 10),
     (3_000_000, len(DURATION_BOUNDS_MS))],
)  # fmt: skip
def test_bucket_of(ms: int | None, bucket: int) -> None:
    assert bucket_of(ms) == bucket


@pytest.mark.parametrize(
    ("histogram", "q", "expected"),
    [
        ({}, 0.5, None),
        ({NO_DURATION: 5}, 0.5, None),
        ({9: 10}, 0.5, 750),  # ten durations in [500, 1000): the middle of the bucket
        ({9: 10}, 0.95, 975),
        ({3: 90, 12: 10}, 0.5, 8),  # 90 fast ones in [5, 10), 10 slow ones in [5 s, 10 s)
        ({3: 90, 12: 10}, 0.95, 7500),
        ({len(DURATION_BOUNDS_MS): 3}, 0.5, 2_000_000),  # beyond the last bound: its floor
    ],
)
def test_percentile_interpolates_inside_a_bucket(
    histogram: dict[int, int], q: float, expected: int | None
) -> None:
    assert percentile(histogram, q) == expected


def test_command_figures_add_tallies_up_per_command_busiest_first() -> None:
    def tally(command: str, state: JobState, bucket: int, n: int) -> DurationTally:
        return DurationTally(command=command, state=state, bucket=bucket, n=n, total_ms=0)

    figures = command_figures([
        tally("send", JobState.COMPLETED, 9, 6), tally("send", JobState.FAILED, 9, 2),
        tally("send", JobState.COMPLETED, 9, 2), tally("send", JobState.CANCELLED, NO_DURATION, 4),
        tally("report", JobState.COMPLETED, 12, 1),
    ])  # fmt: skip
    send, report = figures
    assert (send.command, send.completed, send.failed, send.cancelled) == ("send", 8, 2, 4)
    assert send.runs == 10 and send.failure_rate == 0.2 and send.p50_ms == 750
    assert (report.command, report.runs, report.failure_rate, report.p95_ms) == (
        "report", 1, 0.0, 9750
    )  # fmt: skip
