"""A successful attempt's transitions: a plain job's one completion (`rules.completion`, the
engine's short path) is what `decide` makes of it; a job with a callback, a reply or a job
it served takes the general path, with its follow-up or its parent's move."""

from __future__ import annotations

import random

from jobs_core.records import AttemptOutcome, Job, JobState
from jobs_core.rules import Attempt, Outcome, completion, decide
from jobs_core.settings import Settings
from jobs_core.store.protocol import Transition

ATTEMPT = Attempt(outcome=Outcome.SUCCESS, duration_ms=12, logs="a line\n", status="done")


def _decide(job: Job, attempt: Attempt = ATTEMPT) -> list[Transition]:
    decision = decide(job, attempt, owner="e1", now=1000, settings=Settings(), rng=random.Random(1))
    return decision.transitions


def test_a_plain_job_completes_in_one_transition_as_decide_makes_it() -> None:
    job = Job(id=5, command="send")
    done = completion(job, ATTEMPT, "e1")
    expected = Transition(
        job_id=5, state=JobState.COMPLETED, owner_guard="e1", duration_ms=12,
        response_body="null", logs="a line\n", progress=1.0, status="done",
        outcome=AttemptOutcome.COMPLETED,
    )  # fmt: skip
    assert done == expected
    assert _decide(job) == [expected]


def test_a_result_is_kept_with_its_type() -> None:
    attempt = Attempt(
        outcome=Outcome.SUCCESS, duration_ms=1, response_type="dict", response_body='{"a": 1}'
    )
    done = completion(Job(id=6, command="send"), attempt, "e1")
    assert done is not None
    assert (done.response_type, done.response_body) == ("dict", '{"a": 1}')


def test_a_job_with_a_callback_or_a_reply_or_that_served_one_takes_the_general_path() -> None:
    callback = Job(id=7, command="send", callback="after")
    reply = Job(id=8, command="send", reply_to="https://example.com/hook")
    served = Job(id=9, command="after", meta={"callback_for": "7"})
    for job in (callback, reply, served):
        assert completion(job, ATTEMPT, "e1") is None
    (executed,) = _decide(callback)
    assert executed.state is JobState.EXECUTED
    own, parent = _decide(served)
    assert (own.state, parent.job_id, parent.state) == (JobState.COMPLETED, 7, JobState.COMPLETED)
