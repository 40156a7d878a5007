"""Per-command figures from duration histograms: runs, failure rate, p50/p95 durations.

Pure. Engines tally every finished job per minute, command, state and duration bucket
(`DURATION_BOUNDS_MS`) in the transaction that finishes it; a window's figures come from
adding those tallies up, so they cost the same at a thousand or a billion archived jobs.
Percentiles are read from the histogram, interpolated inside a bucket: within the bucket's
width (a factor of 2 to 2.5), never exact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from .records import CommandFigures, JobState
from .store.protocol import DurationTally

DURATION_BOUNDS_MS: tuple[int, ...] = (
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000,
    100_000, 200_000, 500_000, 1_000_000, 2_000_000,
)  # fmt: skip
"""Upper bounds (exclusive) of the duration buckets; bucket i holds durations below
`DURATION_BOUNDS_MS[i]` and at least the bound before; the last bucket is everything longer."""

FIGURES_KEPT_MS = 8 * 86_400_000
"""How long the per-minute tallies are kept (the longest window shown is a day)."""

NO_DURATION = -1
"""The bucket of jobs that never ran (cancelled while queued)."""


def bucket_of(duration_ms: int | None) -> int:
    """The bucket a duration falls in."""
    if duration_ms is None:
        return NO_DURATION
    for index, bound in enumerate(DURATION_BOUNDS_MS):
        if duration_ms < bound:
            return index
    return len(DURATION_BOUNDS_MS)


def percentile(histogram: Mapping[int, int], q: float) -> int | None:
    """The `q` quantile (0..1) of the durations a histogram (bucket → count) holds."""
    counts = {b: n for b, n in histogram.items() if b != NO_DURATION and n > 0}
    total = sum(counts.values())
    if not total:
        return None
    rank = q * total
    seen = 0
    for bucket in sorted(counts):
        n = counts[bucket]
        if seen + n >= rank:
            low = 0 if bucket == 0 else DURATION_BOUNDS_MS[bucket - 1]
            if bucket >= len(DURATION_BOUNDS_MS):
                return low
            high = DURATION_BOUNDS_MS[bucket]
            return round(low + (high - low) * max(0.0, rank - seen) / n)
        seen += n
    return None


def command_figures(tallies: Iterable[DurationTally]) -> list[CommandFigures]:
    """One `CommandFigures` per command, busiest first."""
    by_state: dict[str, dict[JobState, int]] = defaultdict(lambda: defaultdict(int))
    histograms: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for tally in tallies:
        by_state[tally.command][tally.state] += tally.n
        if tally.state in (JobState.COMPLETED, JobState.FAILED):
            histograms[tally.command][tally.bucket] += tally.n
    figures = [
        CommandFigures(
            command=command,
            completed=states[JobState.COMPLETED],
            failed=states[JobState.FAILED],
            cancelled=states[JobState.CANCELLED],
            p50_ms=percentile(histograms[command], 0.5),
            p95_ms=percentile(histograms[command], 0.95),
        )
        for command, states in by_state.items()
    ]
    return sorted(figures, key=lambda f: (-f.runs, f.command))
