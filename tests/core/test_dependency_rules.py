"""Table tests of fan-in: how a new job starts given its parents' states."""

from __future__ import annotations

import pytest

from jobs_core import BatchNotFoundError, BatchState, DependencyPolicy, JobNotFoundError, JobState
from jobs_core.dependency_rules import BatchParent, Start, start_of

Q, S, E = JobState.QUEUED, JobState.STARTED, JobState.EXECUTED
C, F, X = JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED
STRICT, LENIENT = DependencyPolicy.COMPLETED, DependencyPolicy.FINISHED
WAIT = "cancelled because job {} it depends on did not complete"


def batch(state: BatchState, unsuccessful: int = 0) -> BatchParent:
    return BatchParent(batch_id="b", number=7, state=state, unsuccessful=unsuccessful)


@pytest.mark.parametrize(
    ("parents", "states", "the_batch", "policy", "start"),
    [
        ([], {}, None, STRICT, Start(state=Q)),
        ([1], {1: C}, None, STRICT, Start(state=Q)),
        ([1], {1: S}, None, STRICT, Start(state=Q, waiting_on=1)),
        ([1], {1: E}, None, STRICT, Start(state=Q, waiting_on=1)),  # a callback is pending
        ([1], {1: F}, None, STRICT, Start(state=X, reason=WAIT.format(1))),
        ([1], {1: F}, None, LENIENT, Start(state=Q)),  # ended: good enough
        ([3, 1, 2], {1: C, 2: Q, 3: S}, None, STRICT, Start(state=Q, waiting_on=2)),
        ([1, 2], {1: Q, 2: X}, None, STRICT, Start(state=X, reason=WAIT.format(2))),
        ([1, 2], {1: Q, 2: X}, None, LENIENT, Start(state=Q, waiting_on=1)),
        ([], {}, batch(BatchState.OPEN), STRICT, Start(state=Q, waiting_on=-7)),
        ([], {}, batch(BatchState.CLOSED), STRICT, Start(state=Q, waiting_on=-7)),
        ([], {}, batch(BatchState.FINISHED), STRICT, Start(state=Q)),
        (
            [], {}, batch(BatchState.FINISHED, 1), STRICT,
            Start(state=X, reason="cancelled because batch 'b' it depends on did not complete"),
        ),
        ([], {}, batch(BatchState.FINISHED, 1), LENIENT, Start(state=Q)),
        ([], {}, batch(BatchState.CANCELLED), LENIENT, Start(state=Q)),
        ([5], {5: Q}, batch(BatchState.OPEN), STRICT, Start(state=Q, waiting_on=-7)),
    ],
)  # fmt: skip
def test_start_of_a_job_from_its_parents(
    parents: list[int], states: dict[int, JobState], the_batch: BatchParent | None,
    policy: DependencyPolicy, start: Start,
) -> None:  # fmt: skip
    batch_id = the_batch.batch_id if the_batch else None
    assert start_of(parents, states, the_batch, policy, batch_id=batch_id) == start


def test_missing_parents_are_named() -> None:
    with pytest.raises(JobNotFoundError, match="depends_on: there is no job 4"):
        start_of([1, 4], {1: C}, None, STRICT)
    with pytest.raises(BatchNotFoundError, match="depends_on_batch: there is no batch 'nb'"):
        start_of([], {}, None, STRICT, batch_id="nb")
