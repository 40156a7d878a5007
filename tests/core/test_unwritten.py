"""The ended jobs an engine names to its claims (`Store.claim`'s `finished`): the outcomes
pending and those of the write under way, never a job that runs here again."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from jobs_core import Job
from jobs_core.engine.outcomes import unwritten
from jobs_core.rules import Attempt, Outcome


def ended(job_id: int) -> tuple[Job, Attempt]:
    job = Job(id=job_id, command="c", run_after=0)  # type: ignore[call-arg]
    return job, Attempt(outcome=Outcome.INTERRUPTED, duration_ms=1)


def engine(pending: list[int], writing: list[int], running: list[int]) -> Any:
    return SimpleNamespace(
        _outcomes=[ended(i) for i in pending],
        _in_write=[ended(i) for i in writing],
        running=dict.fromkeys(running),
    )


def test_pending_and_written_outcomes_are_named_but_not_a_job_claimed_again_here() -> None:
    # Job 2's outcome (interrupted: requeued at once) is being written, and a claim since
    # took the job again: it runs, so it counts.
    assert unwritten(engine([3, 4], [1, 2], running=[2, 9])) == [1, 3, 4]
    assert unwritten(engine([], [], running=[5])) == []
