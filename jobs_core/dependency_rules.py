"""Pure rules of fan-in: what the states of a new job's parents (jobs and a batch) make of it.

A job waiting on parents keeps the claim's contract: `waiting_on` holds one parent that has
not ended (a job id, or minus the number of a batch), and is NULL once none is left, so the
claim statement never reads dependencies. When that parent ends, the store moves
`waiting_on` to another pending parent, or clears it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import BatchNotFoundError, JobNotFoundError
from .records import ACTIVE_STATES, BatchState, DependencyPolicy, JobState
from .store.protocol import NewJob

STOPPED_STATES = frozenset({JobState.FAILED, JobState.CANCELLED})
"""Parent states that cancel a child under the `completed` policy."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchParent:
    """The batch a new job depends on, as the enqueue transaction reads it."""

    batch_id: str
    number: int
    """Its store number; a child waiting on it has `waiting_on = -number`."""
    state: BatchState
    unsuccessful: int
    """Its jobs that failed or were cancelled so far."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Start:
    """How a new job starts out, given its parents."""

    state: JobState
    """Queued, or cancelled when a parent already failed (policy `completed`)."""
    waiting_on: int | None = None
    """A parent still pending (a job id, or minus a batch number); None when none is."""
    reason: str | None = None
    """Why it was cancelled."""


def parents_of(depends_on: int | None, dependencies: Sequence[int]) -> list[int]:
    """A new job's parent jobs: all of `dependencies` when it has several, else its one
    `depends_on` (or none)."""
    if dependencies:
        return list(dependencies)
    return [depends_on] if depends_on is not None else []


def job_reason(parent: int) -> str:
    return f"cancelled because job {parent} it depends on did not complete"


def batch_reason(batch_id: str) -> str:
    return f"cancelled because batch '{batch_id}' it depends on did not complete"


def start_of(
    parents: Sequence[int],
    states: Mapping[int, JobState],
    batch: BatchParent | None,
    policy: DependencyPolicy,
    *,
    batch_id: str | None = None,
) -> Start:
    """The start of a job depending on the jobs `parents` (their states in `states`) and on
    `batch` (named `batch_id`, None if it does not exist).

    Raises JobNotFoundError / BatchNotFoundError naming a parent that does not exist.
    """
    pending: list[int] = []
    for parent in parents:
        state = states.get(parent)
        if state is None:
            raise JobNotFoundError(f"depends_on: there is no job {parent}")
        if state in ACTIVE_STATES:
            pending.append(parent)
        elif state in STOPPED_STATES and policy is DependencyPolicy.COMPLETED:
            return Start(state=JobState.CANCELLED, reason=job_reason(parent))
    if batch_id is not None:
        if batch is None:
            raise BatchNotFoundError(f"depends_on_batch: there is no batch '{batch_id}'")
        if batch.state in (BatchState.OPEN, BatchState.CLOSED):
            pending.append(-batch.number)
        elif policy is DependencyPolicy.COMPLETED and (
            batch.state is BatchState.CANCELLED or batch.unsuccessful
        ):
            return Start(state=JobState.CANCELLED, reason=batch_reason(batch.batch_id))
    return Start(state=JobState.QUEUED, waiting_on=min(pending) if pending else None)


def starts_of(
    jobs: Sequence[NewJob], states: Mapping[int, JobState], batches: Sequence[Sequence[Any]]
) -> list[Start]:
    """How each of `jobs` starts, given its parents' `states` and the rows (batch_id,
    number, state, failed + cancelled) of the batches some of them wait for."""
    found = {
        row[0]: BatchParent(batch_id=row[0], number=row[1], state=BatchState(row[2]),
                            unsuccessful=row[3])
        for row in batches
    }  # fmt: skip
    return [
        start_of(
            parents_of(j.depends_on, j.dependencies), states,
            found.get(j.depends_on_batch) if j.depends_on_batch else None,
            j.depends_policy, batch_id=j.depends_on_batch,
        )
        if j.depends_on is not None or j.waits else Start(state=JobState.QUEUED)
        for j in jobs
    ]  # fmt: skip
