"""Pure rules: retry delays and what an attempt's outcome does to a job and its relatives."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

from .fast_init import fast_init
from .records import AttemptOutcome, Job, JobError, JobState
from .retry_policy import RetryPolicy, delay_ms
from .settings import Settings
from .store.protocol import NewJob, Transition

REPLY_COMMAND = "jobs.reply_to"
"""Built-in command that delivers a job's result to its `reply_to` target."""


class Outcome(StrEnum):
    SUCCESS = "success"
    ERROR = "error"
    FATAL = "fatal"
    """An error that a retry cannot fix (e.g. the job's user does not exist)."""
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    """The engine shut down mid-attempt; the attempt is not held against the job."""


ATTEMPT_OUTCOMES = {
    Outcome.SUCCESS: AttemptOutcome.COMPLETED,
    Outcome.ERROR: AttemptOutcome.FAILED,
    Outcome.FATAL: AttemptOutcome.FAILED,
    Outcome.TIMEOUT: AttemptOutcome.TIMED_OUT,
    Outcome.CANCELLED: AttemptOutcome.CANCELLED,
    Outcome.INTERRUPTED: AttemptOutcome.INTERRUPTED,
}
"""How each way an attempt ends is recorded in the job's attempt history."""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """How one attempt of a job ended."""

    outcome: Outcome
    duration_ms: int
    response_type: str | None = None
    response_body: str | None = None
    error: JobError | None = None
    logs: str = ""
    progress: float | None = None
    status: str | None = None


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """Transitions and new jobs an attempt leads to; written in one transaction."""

    transitions: list[Transition]
    new_jobs: list[NewJob] = field(default_factory=list)


def retry_delay_ms(
    attempt: int, settings: Settings, rng: random.Random, policy: RetryPolicy | None = None
) -> int:
    """Delay before the retry that follows failed attempt number `attempt` (1-based): the
    policy's backoff, its unset fields taken from the settings (exponential with jitter)."""
    return delay_ms(
        policy, attempt, rng, default_base=settings.retry_backoff_secs,
        default_cap=settings.retry_backoff_max_secs, default_jitter=settings.retry_jitter,
    )  # fmt: skip


def decide(
    job: Job, attempt: Attempt, *, owner: str, now: int, settings: Settings, rng: random.Random,
    policy: RetryPolicy | None = None,
) -> Decision:  # fmt: skip
    """What `attempt` does to `job` (and to the job it is a callback or reply for).

    A retry waits as `job.retry_policy` says, else `policy` (its command's), else the
    settings' exponential backoff."""
    if attempt.outcome is Outcome.SUCCESS:
        return succeeded(job, attempt, owner)
    if attempt.outcome is Outcome.INTERRUPTED:
        return Decision(
            transitions=[_own(job, attempt, owner, JobState.QUEUED, run_after=now, refund=True)]
        )
    if attempt.outcome is Outcome.CANCELLED:
        error = attempt.error or JobError(code="Cancelled", message="cancelled")
        own = _own(job, attempt, owner, JobState.CANCELLED, error=error)
        return Decision(transitions=[own, *_parent_after(job, JobState.CANCELLED, error)])
    error = attempt.error or JobError(code="Error", message="failed")
    retryable = attempt.outcome is not Outcome.FATAL
    if retryable and job.attempts <= job.retry_limit:
        delay = retry_delay_ms(job.attempts, settings, rng, job.retry_policy or policy)
        retry = _own(job, attempt, owner, JobState.QUEUED, run_after=now + delay, error=error)
        return Decision(transitions=[retry])
    own = _own(job, attempt, owner, JobState.FAILED, error=error)
    return Decision(transitions=[own, *_parent_after(job, JobState.FAILED, error)])


def _own(
    job: Job,
    attempt: Attempt,
    owner: str,
    state: JobState,
    *,
    run_after: int | None = None,
    error: JobError | None = None,
    body: str | None = None,
    notified: bool = False,
    refund: bool = False,
) -> Transition:
    """The transition of the job whose attempt ended (one construction: this is per job).

    A handler that returned has done all its work: its progress is 1.0, reported or not.
    """
    return Transition(
        job_id=job.id,
        state=state,
        owner_guard=owner,
        run_after=run_after,
        duration_ms=attempt.duration_ms,
        response_type=attempt.response_type if body is not None else None,
        response_body=body,
        error=error,
        logs=attempt.logs,
        progress=1.0 if body is not None else attempt.progress,
        status=attempt.status,
        notified=notified,
        refund_attempt=refund,
        outcome=ATTEMPT_OUTCOMES[attempt.outcome],
    )


def completion(job: Job, attempt: Attempt, owner: str) -> Transition | None:
    """The one transition of a successful `attempt` of a job with no callback or reply to
    run and no job it served (its meta would say which): most jobs; None for the others
    (`succeeded` decides those)."""
    if job.meta or job.callback or job.reply_to:
        return None
    return _own(job, attempt, owner, JobState.COMPLETED, body=attempt.response_body or "null")


def succeeded(job: Job, attempt: Attempt, owner: str) -> Decision:
    """What a successful `attempt` does: `decide` for `Outcome.SUCCESS` (which needs no
    settings, time or policy)."""
    done = completion(job, attempt, owner)
    if done is not None:
        return Decision(transitions=[done])
    body = attempt.response_body or "null"
    follow_up = _follow_up(job, body, attempt.response_type or "")
    if follow_up is not None:
        executed = _own(job, attempt, owner, JobState.EXECUTED, body=body)
        return Decision(transitions=[executed], new_jobs=[follow_up])
    notified = bool(job.callback or job.reply_to)
    done = _own(job, attempt, owner, JobState.COMPLETED, body=body, notified=notified)
    return Decision(transitions=[done, *_parent_after(job, JobState.COMPLETED, None)])


def _follow_up(job: Job, body: str, body_type: str) -> NewJob | None:
    """The callback or reply job to run after `job` succeeded, if any is still due."""
    for_parent = job.meta.get("callback_for")
    if job.callback and for_parent is None and job.command != REPLY_COMMAND:
        return _callback_job(job, body, body_type)
    if job.reply_to and job.command != REPLY_COMMAND:
        # A callback job carries its parent's reply_to; the reply is for the parent.
        target = int(for_parent) if for_parent is not None else job.id
        return _reply_job(job, target, job.request_body if for_parent else body)
    return None


def _callback_job(job: Job, body: str, body_type: str) -> NewJob:
    assert job.callback is not None
    return NewJob(
        command=job.callback, request_type=body_type, request_body=body, worker="",
        run_after=0, retry_limit=job.retry_limit, timeout_secs=job.timeout_secs,
        parent_id=job.id, batch_id=job.batch_id, tag=job.tag, created_by=job.created_by,
        user_id=job.user_id, reply_to=job.reply_to, meta={"callback_for": str(job.id)},
    )  # fmt: skip


def _reply_job(job: Job, target: int, payload: str) -> NewJob:
    return NewJob(
        command=REPLY_COMMAND, request_type="json", request_body=payload, worker="",
        run_after=0, retry_limit=max(job.retry_limit, 3), timeout_secs=60.0, parent_id=target,
        batch_id=job.batch_id, tag=job.tag, reply_to=job.reply_to,
        meta={"reply_for": str(target)},
    )  # fmt: skip


def _parent_after(job: Job, state: JobState, error: JobError | None) -> list[Transition]:
    """How a callback or reply job ending in `state` moves the job it served."""
    callback_for = job.meta.get("callback_for")
    reply_for = job.meta.get("reply_for")
    if callback_for is not None and state is not JobState.COMPLETED:
        message = f"callback '{job.command}' (job {job.id}) {state}: " + (
            error.message if error else ""
        )
        code = "CallbackFailed" if state is JobState.FAILED else "CallbackCancelled"
        parent_state = JobState.FAILED if state is JobState.FAILED else JobState.CANCELLED
        return [Transition(job_id=int(callback_for), state=parent_state, owner_guard=None,
                           error=JobError(code=code, message=message),
                           logs=f"[callback] {message}\n")]  # fmt: skip
    if callback_for is not None and not job.reply_to:
        return [Transition(job_id=int(callback_for), state=JobState.COMPLETED, owner_guard=None,
                           notified=True, logs=f"[callback] job {job.id} completed\n")]  # fmt: skip
    if reply_for is not None:
        note = (
            "delivered"
            if state is JobState.COMPLETED
            else f"not delivered ({state}): " + (error.message if error else "")
        )
        delivered = state is JobState.COMPLETED
        failure = None if delivered else f"{note} (job {job.id})"
        return [Transition(job_id=int(reply_for), state=JobState.COMPLETED, owner_guard=None,
                           notified=delivered, notify_error=failure,
                           logs=f"[reply_to] result {note} by job {job.id}\n")]  # fmt: skip
    return []
