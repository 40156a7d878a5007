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


def test_activity_is_made_at_the_first_report_and_keeps_progress_across_takes() -> None:
    ctx = _context()
    assert ctx._activity is None  # nothing reported: nothing made
    ctx.status("starting")
    taken = ctx.take_activity()
    assert taken is not None and taken.status == "starting"
    ctx.log.info("more")
    again = ctx.take_activity()
    assert again is not None and again.status == "starting" and len(again.logs) == 1


def test_activity_given_back_before_any_new_report_is_taken_again() -> None:
    ctx = _context()
    ctx.progress(0.25)
    taken = ctx.take_activity()
    assert taken is not None
    ctx._activity = None  # as if nothing was reported since the take
    ctx.give_back(taken)
    back = ctx.take_activity()
    assert back is not None and back.logs == taken.logs


def test_activity_read_before_any_report_is_empty() -> None:
    ctx = _context()
    assert (ctx.activity.progress, ctx.activity.status, ctx.activity.logs) == (None, None, [])
    assert ctx.take_activity() is None


def test_parents_are_an_empty_list_until_set_and_keep_what_is_appended() -> None:
    ctx = _context()
    assert ctx.parents == []
    ctx.parents.append("a result")  # type: ignore[arg-type]
    assert ctx.parents == ["a result"]
    ctx.parents = []
    assert ctx.parents == []
