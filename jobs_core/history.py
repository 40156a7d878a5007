"""A job's attempt history, composed from the rows kept per attempt and the job's own row.

Every attempt that did not end its job (a retry, a lost or interrupted attempt) and every
requeue is a row of its own, written in the transaction that ended it. The attempt that ends
the job is not copied: the job's row already holds it (its times, error, progress, status,
`owner` and, when it failed, `last_outcome`), so a job that succeeds the first time costs
the hot path no extra row and no extra column. Log lines are not copied either: each row
records how many log characters the job had ever written when it ended (`log_end`), and an
attempt's lines are cut from the job's logs between the previous entry's mark and its own,
truncation marker included.
"""

from __future__ import annotations

from dataclasses import dataclass

from .log_cap import dropped_characters, log_end
from .records import AttemptOutcome, Job, JobAttempt, JobError, JobState

ENDING_STATES = frozenset(
    {JobState.EXECUTED, JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED}
)
"""States in which the job's own row may hold the attempt that ended it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptRow:
    """A `job_attempt` row."""

    job_id: int
    seq: int
    number: int
    outcome: AttemptOutcome
    engine: str | None
    started_date: int | None
    ended_date: int
    duration_ms: int | None
    error: JobError | None
    progress: float | None
    status: str | None
    log_end: int


class LogStream:
    """A job's logs seen as the stream of every character ever written to them: the log cap
    drops the oldest lines and counts them in its marker, so offsets stay valid."""

    def __init__(self, logs: str) -> None:
        self.dropped, self.body = dropped_characters(logs)

    @property
    def end(self) -> int:
        """Characters ever written."""
        return self.dropped + len(self.body)

    def cut(self, start: int, end: int) -> tuple[str, bool]:
        """The text written between offsets `start` and `end`, and whether some of it was
        dropped by the cap."""
        lost = start < self.dropped
        first = max(start, self.dropped) - self.dropped
        last = max(end, self.dropped) - self.dropped
        return self.body[first:last], lost and end > start


def host_of(engine_id: str | None) -> str | None:
    """The host in an engine id (`host:pid:nonce`), or None for an id of another form."""
    if not engine_id or engine_id.count(":") < 2:
        return None
    return engine_id.rsplit(":", 2)[0]


def compose(job: Job | None, rows: list[AttemptRow]) -> list[JobAttempt]:
    """The job's attempts oldest first: its rows, then the attempt its row holds (running,
    or the one that ended it). `job` is None when its row is gone (a removed month)."""
    stream = LogStream(job.logs if job is not None else "")
    attempts: list[JobAttempt] = []
    mark = 0
    for row in sorted(rows, key=lambda r: r.seq):
        logs, lost = stream.cut(mark, row.log_end)
        attempt = JobAttempt(
            job_id=row.job_id, number=row.number, outcome=row.outcome, engine=row.engine,
            host=host_of(row.engine), started_date=row.started_date,
            ended_date=row.ended_date, duration_ms=row.duration_ms, error=row.error,
            progress=row.progress, status=row.status, logs=logs, logs_truncated=lost,
        )  # fmt: skip
        attempts.append(attempt)
        mark = max(mark, row.log_end)
    if job is not None:
        last = current_attempt(job, stream, mark)
        if last is not None:
            attempts.append(last)
    return attempts


def current_attempt(job: Job, stream: LogStream, mark: int) -> JobAttempt | None:
    """The attempt the job's own row holds: the running one, or the one that ended it."""
    engine = job.owner
    if job.state is JobState.STARTED:
        outcome = AttemptOutcome.RUNNING
    elif job.state in (JobState.COMPLETED, JobState.EXECUTED) and job.attempts:
        outcome = AttemptOutcome.COMPLETED
    elif job.state in ENDING_STATES and job.last_outcome is not None:
        outcome = job.last_outcome
    elif job.state is JobState.FAILED and job.attempts and job.owner is None:
        outcome = _outcome_before_history(job)
    else:
        return None
    logs, lost = stream.cut(mark, stream.end)
    running = outcome is AttemptOutcome.RUNNING
    ended = None
    if running:
        pass
    elif job.state is not JobState.EXECUTED and job.completed_date is not None:
        ended = job.completed_date
    elif job.started_date is not None and job.duration_ms is not None:
        ended = job.started_date + job.duration_ms
    return JobAttempt(
        job_id=job.id, number=job.attempts, outcome=outcome, engine=engine,
        host=host_of(engine), started_date=job.started_date, ended_date=ended,
        duration_ms=None if running else job.duration_ms,
        error=None if outcome in (AttemptOutcome.COMPLETED, AttemptOutcome.RUNNING)
        else job.error,
        progress=job.progress, status=job.status, logs=logs, logs_truncated=lost,
    )  # fmt: skip


_BEFORE_HISTORY = {"Timeout": AttemptOutcome.TIMED_OUT, "WorkerLost": AttemptOutcome.LOST}


def _outcome_before_history(job: Job) -> AttemptOutcome:
    """How the attempt that failed a job ended, for a row written before the history kept
    `last_outcome` and `owner` (an ended job keeps its engine since): read from its error."""
    code = job.error.code if job.error is not None else ""
    return _BEFORE_HISTORY.get(code, AttemptOutcome.FAILED)


def ending_row(job: Job, seq: int, now: int) -> AttemptRow | None:
    """The attempt that ended `job`, as a row of its own: written when a requeue resets the
    job's row (which held it). None when no attempt ended the job."""
    last = current_attempt(job, LogStream(job.logs), 0)
    if last is None or last.outcome is AttemptOutcome.RUNNING:
        return None
    return AttemptRow(
        job_id=job.id, seq=seq, number=last.number, outcome=last.outcome, engine=last.engine,
        started_date=last.started_date,
        ended_date=last.ended_date or job.completed_date or now,
        duration_ms=last.duration_ms, error=last.error, progress=last.progress,
        status=last.status, log_end=log_end(job.logs),
    )  # fmt: skip


def requeue_row(job_id: int, seq: int, now: int, logs: str) -> AttemptRow:
    """A requeue, as an entry of the history; `logs` are the job's logs once the requeue
    note was appended."""
    return AttemptRow(
        job_id=job_id, seq=seq, number=0, outcome=AttemptOutcome.REQUEUED, engine=None,
        started_date=None, ended_date=now, duration_ms=None, error=None, progress=None,
        status=None, log_end=log_end(logs),
    )  # fmt: skip
