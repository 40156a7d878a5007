"""Table tests of the attempt history composed from its rows and the job's own row."""

from __future__ import annotations

import pytest

from jobs_core import AttemptOutcome, Job, JobError, JobState
from jobs_core.history import AttemptRow, LogStream, compose, ending_row, host_of, requeue_row
from jobs_core.log_cap import cap_logs, log_end

FAILED, DONE = AttemptOutcome.FAILED, AttemptOutcome.COMPLETED
BOOM = JobError(code="ValueError", message="boom")


def row(seq: int, number: int, outcome: AttemptOutcome, log_end: int) -> AttemptRow:
    return AttemptRow(
        job_id=1, seq=seq, number=number, outcome=outcome, engine="h:1:a", started_date=10,
        ended_date=20, duration_ms=10, error=BOOM if outcome is FAILED else None,
        progress=None, status=None, log_end=log_end,
    )  # fmt: skip


def job(state: JobState, logs: str, **fields: object) -> Job:
    base: dict[str, object] = {"id": 1, "command": "c", "state": state, "logs": logs,
                               "attempts": 2, "owner": "h:2:b", "started_date": 100,
                               "duration_ms": 5}  # fmt: skip
    return Job(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "fields", "outcome"),
    [
        (JobState.STARTED, {}, AttemptOutcome.RUNNING),
        (JobState.COMPLETED, {}, DONE),
        (JobState.EXECUTED, {}, DONE),  # ran; its callback is pending
        (JobState.FAILED, {"last_outcome": AttemptOutcome.TIMED_OUT}, AttemptOutcome.TIMED_OUT),
        (JobState.FAILED, {"last_outcome": None}, None),  # a parent's failure: no attempt
        (JobState.QUEUED, {}, None),  # waiting for its next attempt
        (JobState.CANCELLED, {"attempts": 0, "last_outcome": None}, None),
    ],
)
def test_the_job_row_holds_its_running_or_ending_attempt(
    state: JobState, fields: dict[str, object], outcome: AttemptOutcome | None
) -> None:
    history = compose(job(state, "a\nb\n", **fields), [row(1, 1, FAILED, 2)])
    assert [a.outcome for a in history[1:]] == ([outcome] if outcome else [])
    if outcome is not None:
        last = history[-1]
        assert (last.number, last.engine, last.host, last.logs) == (2, "h:2:b", "h", "b\n")
        # no finish time in these rows: the end is the start plus the measured duration
        assert last.ended_date == (None if outcome is AttemptOutcome.RUNNING else 105)


@pytest.mark.parametrize(
    ("code", "outcome"),
    [("Timeout", AttemptOutcome.TIMED_OUT), ("WorkerLost", AttemptOutcome.LOST), ("E", FAILED)],
)
def test_a_failed_row_written_before_the_history_holds_its_last_attempt(
    code: str, outcome: AttemptOutcome
) -> None:
    error = JobError(code=code, message="m")
    old = job(JobState.FAILED, "a\n", owner=None, last_outcome=None, error=error)
    [last] = compose(old, [])
    assert (last.number, last.outcome, last.engine, last.error) == (2, outcome, None, error)


def test_each_attempt_gets_its_own_lines_even_after_the_cap() -> None:
    logs = "x" * 30 + "\n" + "y" * 30 + "\n" + "z" * 30 + "\n"
    capped = cap_logs(logs, 75)  # the marker and the newest line
    history = compose(job(JobState.COMPLETED, capped), [row(1, 1, FAILED, 62)])
    assert history[0].logs == "" and history[0].logs_truncated  # its two lines were dropped
    assert history[1].logs == "z" * 30 + "\n" and not history[1].logs_truncated
    assert log_end(capped) == len(logs) == LogStream(capped).end


def test_ending_and_requeue_rows_materialise_a_failed_job() -> None:
    failed = job(JobState.FAILED, "x\n", last_outcome=FAILED, error=BOOM, completed_date=400)
    ending = ending_row(failed, 2, 999)
    assert ending is not None
    assert (ending.seq, ending.number, ending.outcome, ending.error, ending.ended_date) == (
        2, 2, FAILED, BOOM, 400,  # ended when the job did
    )  # fmt: skip
    event = requeue_row(1, 3, 999, "x\n[requeue]\n")
    assert (event.number, event.outcome, event.log_end) == (0, AttemptOutcome.REQUEUED, 12)
    assert ending_row(job(JobState.QUEUED, ""), 1, 999) is None


@pytest.mark.parametrize(
    ("engine", "host"),
    [("vm:12:ab12", "vm"), ("my:host:7:ff", "my:host"), ("e1", None), (None, None)],
)
def test_host_of_an_engine_id(engine: str | None, host: str | None) -> None:
    assert host_of(engine) == host
