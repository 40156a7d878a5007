"""Pure rules of batches: when a batch finishes, and the callback jobs it enqueues then."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .errors import BatchCancelledError, BatchClosedError
from .records import BatchCompleted, BatchState
from .serialization import to_json, type_name
from .store.protocol import BatchCallback, NewJob

FAILED_IDS_LIMIT = 1000
"""Most failed job ids a `BatchCompleted` request lists (the rest: `batch_status`)."""

CREATED_BY = "batch"
"""`created_by` of the callback jobs a finished batch enqueues."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchCounts:
    """A batch row as the finish transaction reads it: state and counters."""

    batch_id: str
    state: BatchState
    joined: int
    completed: int
    failed: int
    cancelled: int

    @property
    def ended(self) -> int:
        return self.completed + self.failed + self.cancelled


def finishes(batch: BatchCounts) -> bool:
    """Whether the batch finishes now: closed, and every job that joined has ended.

    An open batch never finishes (more jobs may join), nor a cancelled one (its callbacks
    never run), nor a finished one again.
    """
    return batch.state is BatchState.CLOSED and batch.ended >= batch.joined


def check_admits(batch_id: str, state: BatchState, total: int | None, joined: int) -> None:
    """Refuse jobs joining a batch that takes no more: cancelled (BatchCancelledError),
    closed or finished, or one whose declared total `joined` would pass (BatchClosedError)."""
    if state is BatchState.CANCELLED:
        raise BatchCancelledError(
            f"batch '{batch_id}' was cancelled and takes no new jobs", batch_id=batch_id
        )
    if state is not BatchState.OPEN:
        raise BatchClosedError(
            f"batch '{batch_id}' is {state.value} and takes no new jobs", batch_id=batch_id
        )
    if total is not None and joined > total:
        raise BatchClosedError(
            f"batch '{batch_id}' declared a total of {total} jobs; {joined} would join it",
            batch_id=batch_id,
        )


def closes_at_total(state: BatchState, joined: int, declared_total: int | None) -> bool:
    """Whether an open batch closes because its declared total of jobs has joined."""
    return state is BatchState.OPEN and declared_total is not None and joined >= declared_total


@dataclass(frozen=True, slots=True, kw_only=True)
class FinishedBatch:
    """A batch that just finished, with what its callbacks need."""

    counts: BatchCounts
    number: int
    """The batch's store number (its dependents wait on minus it)."""
    name: str | None
    meta: dict[str, str] = field(default_factory=dict)
    on_complete: BatchCallback | None = None
    on_success: BatchCallback | None = None
    failed_ids: list[int] = field(default_factory=list)
    finished_at: int = 0


def follow_ups(batch: FinishedBatch) -> list[NewJob]:
    """The callback jobs of a finished batch: `on_complete` always, `on_success` when every
    job completed. They do not join the batch (it is over)."""
    c = batch.counts
    request = BatchCompleted(
        batch_id=c.batch_id, name=batch.name, total=c.joined, completed=c.completed,
        failed=c.failed, cancelled=c.cancelled, failed_ids=batch.failed_ids[:FAILED_IDS_LIMIT],
        meta=dict(batch.meta), finished_at=batch.finished_at,
    )  # fmt: skip
    jobs: list[NewJob] = []
    for callback, key in ((batch.on_complete, "complete"), (batch.on_success, "success")):
        if callback is None or (key == "success" and not request.succeeded):
            continue
        job = NewJob(
            command=callback.command, request_type=type_name(request),
            request_body=to_json(request, what=f"batch '{c.batch_id}' counts"),
            worker=callback.worker, run_after=batch.finished_at,
            retry_limit=callback.retry_limit, timeout_secs=callback.timeout_secs,
            created_by=CREATED_BY, meta={f"batch_{key}_for": c.batch_id},
        )  # fmt: skip
        jobs.append(job)
    return jobs


def callback_to_json(callback: BatchCallback | None) -> str | None:
    """A batch callback as the store keeps it."""
    if callback is None:
        return None
    return json.dumps(
        {"command": callback.command, "worker": callback.worker,
         "retry_limit": callback.retry_limit, "timeout_secs": callback.timeout_secs}
    )  # fmt: skip


def callback_from_json(text: str | None) -> BatchCallback | None:
    if not text:
        return None
    data = json.loads(text)
    return BatchCallback(
        command=data["command"], worker=data.get("worker", ""),
        retry_limit=int(data.get("retry_limit", 2)),
        timeout_secs=float(data.get("timeout_secs", 600.0)),
    )  # fmt: skip
