"""`Store.finish_and_claim`: a batch of outcomes written and the next jobs claimed in one
call (on SQLite one transaction), as `finish` then `claim` would."""

from __future__ import annotations

from jobs_core import BackgroundJobs, JobState, ManualClock
from jobs_core.records import AttemptOutcome, JobError
from jobs_core.store.protocol import Transition
from tests.conftest import MakeJobs

OWNER = "probe"


def jobs_with_step(make_jobs: MakeJobs, clock: ManualClock) -> BackgroundJobs:
    jobs = make_jobs(start_engine=False, clock=clock)

    @jobs.command
    async def step(req: dict[str, int]) -> None:
        """Never runs: the tests claim and finish by hand."""

    return jobs


def completed(job_id: int, *, logs: str = "") -> Transition:
    return Transition(
        job_id=job_id, state=JobState.COMPLETED, owner_guard=OWNER, duration_ms=3,
        response_type="dict", response_body='{"ok": 1}', progress=1.0, logs=logs,
    )  # fmt: skip


async def test_writes_the_outcomes_and_claims_the_next_jobs(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = jobs_with_step(make_jobs, clock)
    async with jobs:
        ids = [(await jobs.enqueue("step", {"n": n})).id for n in range(4)]
        first = await jobs.store.claim(
            owner=OWNER, commands=["step"], named=False, limit=2, now=clock.now_ms()
        )
        assert [j.id for j in first] == ids[:2]
        # One ends plainly, one with logs: a batch of both kinds, and one of each alone.
        result, claimed = await jobs.store.finish_and_claim(
            [completed(ids[0]), completed(ids[1], logs="done\n")], [], clock.now_ms(),
            owner=OWNER, commands=["step"], limit=5,
        )  # fmt: skip
        assert sorted(result.applied) == ids[:2]
        assert [j.id for j in claimed] == ids[2:]
        assert all(j.state is JobState.STARTED and j.owner == OWNER for j in claimed)
        for job_id, logs in ((ids[0], ""), (ids[1], "done\n")):
            job = (await jobs.get_job(job_id)).job
            assert job is not None and job.state is JobState.COMPLETED
            assert job.owner == OWNER and job.progress == 1.0 and job.duration_ms == 3
            assert (job.response_type, job.response_body, job.logs) == (
                "dict", '{"ok": 1}', logs,
            )  # fmt: skip
            assert job.completed_date == clock.now_ms()
        # A transition no longer owned applies nothing; nothing is left to claim.
        result, claimed = await jobs.store.finish_and_claim(
            [completed(ids[0])], [], clock.now_ms(), owner=OWNER, commands=["step"], limit=5
        )
        assert (result.applied, claimed) == ([], [])


async def test_the_claim_takes_the_dependents_the_finish_released(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = jobs_with_step(make_jobs, clock)
    async with jobs:
        parent = await jobs.enqueue("step", {"n": 1})
        child = await jobs.enqueue("step", {"n": 2}, depends_on=parent.id)
        claimed = await jobs.store.claim(
            owner=OWNER, commands=["step"], named=False, limit=5, now=clock.now_ms()
        )
        assert [j.id for j in claimed] == [parent.id]
        result, claimed = await jobs.store.finish_and_claim(
            [completed(parent.id)], [], clock.now_ms(), owner=OWNER, commands=["step"], limit=5
        )
        assert result.released_dependents == [child.id]
        assert [j.id for j in claimed] == [child.id]


async def test_a_completion_after_a_failed_attempt_clears_its_error(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    # A job's error is that of its last attempt: the statement for plain completions
    # (`queue._COMPLETE_BODY` on SQLite) clears it as the general one does.
    jobs = jobs_with_step(make_jobs, clock)
    async with jobs:
        job_id = (await jobs.enqueue("step", {"n": 1}, retry_limit=1)).id
        now = clock.now_ms()
        await jobs.store.claim(owner=OWNER, commands=["step"], named=False, limit=1, now=now)
        retry = Transition(
            job_id=job_id, state=JobState.QUEUED, owner_guard=OWNER, run_after=now,
            duration_ms=1, error=JobError(code="Boom", message="boom"),
            outcome=AttemptOutcome.FAILED,
        )  # fmt: skip
        await jobs.store.finish([retry], [], now)
        retried = (await jobs.get_job(job_id)).job
        assert retried is not None and retried.error is not None
        # Nothing to write: the call only claims (the retry is due at once).
        _, claimed = await jobs.store.finish_and_claim(
            [], [], now, owner=OWNER, commands=["step"], limit=1
        )
        assert [j.id for j in claimed] == [job_id]
        await jobs.store.finish([completed(job_id)], [], now)
        job = (await jobs.get_job(job_id)).job
        assert job is not None and job.state is JobState.COMPLETED and job.error is None
