"""A job's context: its logger is made on first use, and a context whose job never logged
is freed as soon as the engine drops it (no reference cycle left for the collector)."""

from __future__ import annotations

import gc
import weakref

from jobs_core.context import JobContext
from jobs_core.records import Job


def _context() -> JobContext:
    return JobContext(
        Job(id=7, command="send"), jobs=None, now_ms=lambda: 0, on_activity=lambda: None
    )


def test_context_without_logging_is_freed_without_the_collector() -> None:
    ctx = _context()
    ref = weakref.ref(ctx)
    gc.disable()
    try:
        del ctx
        assert ref() is None
    finally:
        gc.enable()


def test_context_log_is_made_once_and_appends_to_the_job_logs() -> None:
    ctx = _context()
    assert ctx.log is ctx.log
    ctx.log.info("sent %d", 3)
    taken = ctx.take_activity()
    assert taken is not None
    assert taken.logs[0].endswith(" INFO sent 3\n")


def test_take_activity_is_none_until_something_is_reported_then_takes_it_once() -> None:
    ctx = _context()
    assert ctx.take_activity() is None
    ctx.progress(0.5, "half")
    taken = ctx.take_activity()
    assert taken is not None and (taken.progress, taken.status) == (0.5, "half")
    assert ctx.take_activity() is None
