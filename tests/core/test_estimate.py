"""Table tests of the progress estimate of running jobs that report none."""

from __future__ import annotations

import pytest

from jobs_core.estimate import CEILING, estimated, median_ms


@pytest.mark.parametrize(
    ("durations", "median"),
    [([], None), ([0, 0], None), ([100], 100), ([100, 300, 200], 200), ([0, 10, 30], 20)],
)
def test_median_of_recent_durations(durations: list[int], median: int | None) -> None:
    assert median_ms(durations) == median


@pytest.mark.parametrize(
    ("elapsed", "median", "progress"),
    [(0, 100, 0.0), (25, 100, 0.25), (100, 100, CEILING), (500, 100, CEILING),
     (10, None, None), (-5, 100, 0.0)],
)  # fmt: skip
def test_estimate_is_elapsed_over_median_below_done(
    elapsed: int, median: int | None, progress: float | None
) -> None:
    assert estimated(elapsed, median) == progress
