"""Table tests of batches: when one finishes, and the callbacks it enqueues then."""

from __future__ import annotations

import json

import pytest

from jobs_core import BatchState
from jobs_core.batch_rules import (
    BatchCounts,
    FinishedBatch,
    callback_from_json,
    callback_to_json,
    closes_at_total,
    finishes,
    follow_ups,
)
from jobs_core.store.protocol import BatchCallback

OPEN, CLOSED, DONE, GONE = (
    BatchState.OPEN, BatchState.CLOSED, BatchState.FINISHED, BatchState.CANCELLED,
)  # fmt: skip


def counts(state: BatchState, joined: int, c: int = 0, f: int = 0, x: int = 0) -> BatchCounts:
    return BatchCounts(batch_id="b", state=state, joined=joined, completed=c, failed=f,
                       cancelled=x)  # fmt: skip


@pytest.mark.parametrize(
    ("batch", "finished"),
    [
        (counts(CLOSED, 3, c=3), True),
        (counts(CLOSED, 3, c=1, f=1, x=1), True),
        (counts(CLOSED, 3, c=2), False),  # one still running
        (counts(OPEN, 3, c=3), False),  # more may join
        (counts(GONE, 3, c=3), False),  # cancelled: callbacks never run
        (counts(DONE, 3, c=3), False),  # once only
        (counts(CLOSED, 0), True),  # closed empty
    ],
)
def test_a_batch_finishes_once_closed_and_every_job_ended(
    batch: BatchCounts, finished: bool
) -> None:
    assert finishes(batch) is finished


@pytest.mark.parametrize(
    ("state", "joined", "total", "closes"),
    [(OPEN, 2, 3, False), (OPEN, 3, 3, True), (OPEN, 3, None, False), (CLOSED, 3, 3, False)],
)
def test_a_declared_total_closes_the_batch(
    state: BatchState, joined: int, total: int | None, closes: bool
) -> None:
    assert closes_at_total(state, joined, total) is closes


REPORT = BatchCallback(command="report", worker="mail", retry_limit=5, timeout_secs=30)
PARTY = BatchCallback(command="party")


@pytest.mark.parametrize(
    ("batch", "commands"),
    [
        (counts(CLOSED, 2, c=2), ["report", "party"]),
        (counts(CLOSED, 2, c=1, f=1), ["report"]),
        (counts(CLOSED, 2, c=1, x=1), ["report"]),  # a cancelled job is no success either
    ],
)
def test_on_success_runs_only_when_every_job_completed(
    batch: BatchCounts, commands: list[str]
) -> None:
    finished = FinishedBatch(counts=batch, number=1, name="n", meta={"k": "v"},
                             on_complete=REPORT, on_success=PARTY, failed_ids=[9],
                             finished_at=123)  # fmt: skip
    jobs = follow_ups(finished)
    assert [j.command for j in jobs] == commands
    first = jobs[0]
    assert (first.worker, first.retry_limit, first.timeout_secs, first.batch_id) == (
        "mail", 5, 30, None,
    )  # fmt: skip
    assert first.request_type == "jobs_core.records.BatchCompleted"
    request = json.loads(first.request_body)
    assert (request["total"], request["failed_ids"], request["meta"]) == (2, [9], {"k": "v"})
    assert first.meta == {"batch_complete_for": "b"} and first.run_after == 123


def test_callbacks_round_trip_through_json() -> None:
    assert callback_from_json(callback_to_json(REPORT)) == REPORT
    assert callback_from_json(callback_to_json(None)) is None
