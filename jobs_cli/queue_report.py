"""Queues as `jobs status` and `jobs queue list` print them: a table, and plain JSON."""

from __future__ import annotations

from typing import Any

from jobs_core import QueueInfo, RateLimit
from jobs_core.flow_records import format_window

HEADER = (
    f"  {'QUEUE':<16} {'CONCURRENCY':<12} {'RUNNING':>7} {'QUEUED':>7}  {'RATE LIMIT':<11}"
    f" {'RATE NOW':<9} {'DONE 15M':>8} {'FAILED 15M':>10}  STATE"
)


def queue_lines(queues: list[QueueInfo]) -> list[str]:
    """The queues section: a title with the counts, then one line per queue."""
    paused = sum(q.paused for q in queues)
    lines = [f"# QUEUES: {len(queues)} ({paused} paused)", ""]
    if not queues:
        return [*lines, "  (none: no job, setting or recent finish names a queue)"]
    lines.append(HEADER)
    for q in queues:
        concurrency = "1 (worker)" if q.worker else str(q.concurrency or "-")
        rate = str(q.rate_limit) if q.rate_limit else "-"
        now = _rate_now(q.recent_starts, q.rate_limit)
        lines.append(
            f"  {q.name:<16} {concurrency:<12} {q.running:>7} {q.queued:>7}  {rate:<11}"
            f" {now:<9} {q.finished_15m:>8} {q.failed_15m:>10}  "
            f"{'paused' if q.paused else 'active'}"
        )
    return lines


def _rate_now(starts: int | None, rate: RateLimit | None) -> str:
    if starts is None or rate is None:
        return "-"
    return f"{starts}/{format_window(rate.per_ms)}"


def queue_json(queue: QueueInfo) -> dict[str, Any]:
    """A queue as plain JSON (its rate limit as `{"limit": n, "per_ms": ms}`)."""
    rate = queue.rate_limit
    return {
        "name": queue.name, "concurrency": queue.concurrency, "paused": queue.paused,
        "rate_limit": None if rate is None else {"limit": rate.limit, "per_ms": rate.per_ms},
        "running": queue.running, "queued": queue.queued,
        "recent_starts": queue.recent_starts, "finished_15m": queue.finished_15m,
        "failed_15m": queue.failed_15m, "worker": queue.worker,
    }  # fmt: skip
