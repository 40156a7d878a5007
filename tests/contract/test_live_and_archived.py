"""Jobs read the same whether live or archived: a job is in exactly one place (its live row,
or its month's archive with its summary), and every reader that wants jobs whatever their
state (batches, children, dependents, lookups, requeue) sees both kinds at once."""

from __future__ import annotations

from datetime import timedelta

from jobs_core import EnqueueRequest, JobState, ManualClock
from tests.conftest import MakeJobs

DAY = timedelta(days=1)


async def test_a_batch_parent_and_dependents_half_archived_half_live(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def item(req: dict[str, int]) -> None:
        if req["n"] == 2:
            raise RuntimeError("bad item")

    def batch(*ns: int, **options: object) -> list[EnqueueRequest]:
        return [EnqueueRequest(command="item", request={"n": n}, batch_id="B", retry_limit=0,
                               parent_id=parent.id, **options) for n in ns]  # type: ignore[arg-type]  # fmt: skip

    async with jobs:
        parent = await jobs.enqueue("item", {"n": 0}, ref_id="parent")
        early = await jobs.enqueue_many(batch(1, 2))
        await jobs.run_until_idle()  # run and archived, n=2 failed
        late = await jobs.enqueue_many(batch(3, 4, run_after=DAY))  # live, queued
        after_done = await jobs.enqueue("item", {"n": 5}, depends_on=parent.id, run_after=DAY)
        after_failed = await jobs.enqueue("item", {"n": 6}, depends_on=early[1].id)
        status = await jobs.batch_status("B")
        children = [c.id for c in await jobs.children(parent.id)]
        dependents = [[d.id for d in await jobs.dependents(p.id)] for p in (parent, early[1])]
        by_ref = await jobs.get_job_by_ref("parent")
        counts = await jobs.counts()
        cancelled = await jobs.get_job(after_failed.id)
        requeued = await jobs.requeue(early[1].id)
        again = await jobs.batch_status("B")
        live_ref = await jobs.enqueue("item", {"n": 7}, ref_id="live", run_after=DAY)
        found = await jobs.get_job_by_ref("live")
    assert status.total == 4 and status.done == 2
    assert status.counts == {JobState.COMPLETED: 1, JobState.FAILED: 1, JobState.QUEUED: 2}
    assert status.failed_ids == [early[1].id]
    assert children == [r.id for r in (*early, *late, after_done)]  # depends_on sets the parent
    assert dependents == [[after_done.id], [after_failed.id]]
    assert by_ref.summary.state is JobState.COMPLETED and by_ref.completed is not None
    assert counts[JobState.COMPLETED] == 2 and counts[JobState.FAILED] == 1
    assert counts[JobState.QUEUED] == 3 and counts[JobState.CANCELLED] == 1
    assert cancelled.state is JobState.CANCELLED
    assert cancelled.summary.error_code == "DependencyFailed"
    assert requeued == [early[1].id, after_failed.id]
    assert again.counts == {JobState.COMPLETED: 1, JobState.QUEUED: 3} and again.failed_ids == []
    assert found.summary.id == live_ref.id and found.summary.state is JobState.QUEUED
    assert found.queued is not None and found.queued.ref_id == "live"
