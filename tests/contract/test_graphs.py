"""Job graphs: depends_on chains, transitive cancel, atomic batching, callbacks, batches."""

from __future__ import annotations

import pytest

from jobs_core import (
    BackgroundJobs,
    EnqueueRequest,
    JobContext,
    JobState,
    ManualClock,
)
from tests.conftest import MakeJobs


async def states(jobs: BackgroundJobs, ids: list[int]) -> list[JobState]:
    return [(await jobs.get_job(i)).state for i in ids]


async def test_child_waits_for_parent_and_reads_its_request_and_result(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)
    seen: list[tuple[str, str | None]] = []

    @jobs.command
    async def aggregate(req: dict[str, str]) -> dict[str, int]:
        return {"rows": 42}

    @jobs.command
    async def report(ctx: JobContext) -> None:
        assert ctx.parent is not None
        seen.append((ctx.parent.request_body, ctx.parent.response_body))

    async with jobs:
        parent = await jobs.enqueue("aggregate", {"month": "2026-10"}, run_after=None)
        child = await jobs.enqueue("report", depends_on=parent.id)
        assert (await jobs.get_job(child.id)).state is JobState.QUEUED
        await jobs.run_until_idle()
    assert seen == [('{"month":"2026-10"}', '{"rows":42}')]


async def test_chain_of_four_where_second_fails_cancels_the_rest(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)
    ran: list[int] = []

    @jobs.command
    async def step(req: dict[str, bool], ctx: JobContext) -> None:
        ran.append(ctx.job.id)
        if req["fail"]:
            raise RuntimeError("step two broke")

    async with jobs:
        one = await jobs.enqueue("step", {"fail": False})
        two = await jobs.enqueue("step", {"fail": True}, depends_on=one.id, retry_limit=1)
        three = await jobs.enqueue("step", {"fail": False}, depends_on=two.id)
        four = await jobs.enqueue("step", {"fail": False}, depends_on=three.id)
        await jobs.run_until_idle()
        result = await states(jobs, [one.id, two.id, three.id, four.id])
        third = await jobs.get_job(three.id)
        fourth = await jobs.get_job(four.id)
    assert ran == [one.id, two.id, two.id]
    assert result == [JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.CANCELLED]
    assert third.summary.error_message == (
        f"cancelled because job {two.id} it depends on did not complete"
    )
    assert fourth.summary.error_message == (
        f"cancelled because job {three.id} it depends on did not complete"
    )
    assert third.failed is not None and third.failed.error is not None
    assert third.failed.error.code == "DependencyFailed"


async def test_parent_cancelled_with_fifty_dependents_none_runs(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)
    ran: list[int] = []

    @jobs.command
    async def work(ctx: JobContext) -> None:
        ran.append(ctx.job.id)

    async with jobs:
        parent = await jobs.enqueue("work", run_after=None)
        children = await jobs.enqueue_many(
            [EnqueueRequest(command="work", depends_on=parent.id) for _ in range(50)]
        )
        grandchild = await jobs.enqueue("work", depends_on=children[0].id)
        assert await jobs.cancel(parent.id, "not needed") is JobState.CANCELLED
        await jobs.run_until_idle()
        result = await states(jobs, [c.id for c in children] + [grandchild.id])
        late = await jobs.enqueue("work", depends_on=parent.id)
        late_state = (await jobs.get_job(late.id)).state
        counts = await jobs.counts()
    assert ran == []
    assert result == [JobState.CANCELLED] * 51
    assert late_state is JobState.CANCELLED  # a dependent of a cancelled job never waits
    assert counts[JobState.CANCELLED] == 53


async def test_atomic_batching_children_run_only_if_the_job_succeeds(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)
    sent: list[str] = []

    @jobs.command
    async def check_urls(req: dict[str, object], ctx: JobContext) -> None:
        assert ctx.jobs is not None
        for url in ["a", "b", "c"]:
            await ctx.jobs.enqueue("notify", {"url": url}, depends_on=ctx.job.id, batch_id="n")
        if req["fail"]:
            raise RuntimeError("lost connection half-way")

    @jobs.command
    async def notify(req: dict[str, str]) -> None:
        sent.append(req["url"])

    async with jobs:
        await jobs.enqueue("check_urls", {"fail": True}, retry_limit=0)
        await jobs.run_until_idle()
        assert sent == []
        failed_batch = await jobs.batch_status("n")
        await jobs.enqueue("check_urls", {"fail": False})
        await jobs.run_until_idle()
    assert failed_batch.counts == {JobState.CANCELLED: 3}
    assert sorted(sent) == ["a", "b", "c"]


async def test_requeued_failed_parent_lets_its_dependents_run(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)
    healthy = False
    ran: list[str] = []

    @jobs.command
    async def parent_step() -> None:
        if not healthy:
            raise RuntimeError("database down")
        ran.append("parent")

    @jobs.command
    async def child_step(req: dict[str, str]) -> None:
        ran.append(req["name"])

    async with jobs:
        parent = await jobs.enqueue("parent_step", retry_limit=0)
        child = await jobs.enqueue("child_step", {"name": "child"}, depends_on=parent.id)
        grandchild = await jobs.enqueue("child_step", {"name": "grand"}, depends_on=child.id)
        await jobs.run_until_idle()
        assert await states(jobs, [parent.id, child.id, grandchild.id]) == [
            JobState.FAILED, JobState.CANCELLED, JobState.CANCELLED,
        ]  # fmt: skip
        healthy = True
        assert await jobs.requeue(parent.id) == [parent.id, child.id, grandchild.id]
        assert (await jobs.get_job(child.id)).state is JobState.QUEUED
        await jobs.run_until_idle()
        final = await states(jobs, [parent.id, child.id, grandchild.id])
    assert ran == ["parent", "child", "grand"]
    assert final == [JobState.COMPLETED] * 3


async def test_callback_runs_with_the_result_and_job_stays_executed_until_it_completes(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)
    seen: list[object] = []

    @jobs.command
    async def check(req: dict[str, list[str]]) -> dict[str, bool]:
        return {url: True for url in req["urls"]}

    @jobs.command
    async def email_results(req: dict[str, bool], ctx: JobContext) -> None:
        assert ctx.jobs is not None and ctx.job.parent_id is not None
        parent = await ctx.jobs.get_job(ctx.job.parent_id)
        seen.append((req, parent.state))

    async with jobs:
        ref = await jobs.enqueue("check", {"urls": ["x", "y"]}, callback="email_results")
        await jobs.run_until_idle()
        result = await jobs.get_job(ref.id)
    assert seen == [({"x": True, "y": True}, JobState.EXECUTED)]
    assert result.state is JobState.COMPLETED and result.completed is not None
    assert result.completed.notified_date is not None
    assert "[callback]" in result.completed.logs


async def test_failing_callback_is_retried_and_then_fails_the_job(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)
    attempts: list[int] = []
    dependent_ran: list[int] = []

    @jobs.command
    async def produce() -> int:
        return 7

    @jobs.command
    async def consume(req: int, ctx: JobContext) -> None:
        attempts.append(ctx.job.attempts)
        raise ValueError(f"cannot consume {req}")

    @jobs.command
    async def after() -> None:
        dependent_ran.append(1)

    async with jobs:
        ref = await jobs.enqueue("produce", callback="consume", retry_limit=1)
        dependent = await jobs.enqueue("after", depends_on=ref.id)
        await jobs.run_until_idle()
        result = await jobs.get_job(ref.id)
        dep = await jobs.get_job(dependent.id)
    assert attempts == [1, 2]  # retried like the job (retry_limit 1)
    assert result.state is JobState.FAILED
    assert result.summary.error_code == "CallbackFailed"
    assert "cannot consume 7" in (result.summary.error_message or "")
    assert result.summary.attempts == 1  # the job itself ran once
    assert dep.state is JobState.CANCELLED and dependent_ran == []


async def test_batch_status_and_cancel_batch(make_jobs: MakeJobs, clock: ManualClock) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def item(req: dict[str, int]) -> None:
        clock.advance(1)
        if req["n"] == 2:
            raise RuntimeError("bad item")

    async with jobs:
        refs = await jobs.enqueue_many(
            [EnqueueRequest(command="item", request={"n": n}, batch_id="B", retry_limit=0)
             for n in range(4)]
        )  # fmt: skip
        waiting = await jobs.enqueue("item", {"n": 9}, batch_id="B", run_after=None)
        assert await jobs.cancel_batch("B") == [r.id for r in refs] + [waiting.id]
        more = await jobs.enqueue_many(
            [EnqueueRequest(command="item", request={"n": n}, batch_id="C", retry_limit=0)
             for n in range(4)]
        )  # fmt: skip
        await jobs.run_until_idle()
        cancelled = await jobs.batch_status("B")
        status = await jobs.batch_status("C")
    assert cancelled.counts == {JobState.CANCELLED: 5} and cancelled.done == 5
    assert status.total == 4 and status.done == 4
    assert status.counts == {JobState.COMPLETED: 3, JobState.FAILED: 1}
    assert status.failed_ids == [more[2].id]
    assert status.started_at is not None and status.finished_at is not None
    assert status.finished_at - status.started_at == 4000  # 4 jobs, each moving the clock 1 s


@pytest.mark.parametrize("async_resolver", [False, True])
async def test_user_resolver_gives_handler_its_user(
    make_jobs: MakeJobs, clock: ManualClock, async_resolver: bool
) -> None:
    from jobs_core import current_user

    jobs = make_jobs(clock=clock, start_engine=False)
    users = {"u1": {"name": "Ada"}}
    seen: list[object] = []

    if async_resolver:

        async def resolve(user_id: str) -> object:
            return users.get(user_id)

    else:

        def resolve(user_id: str) -> object:  # type: ignore[misc]
            return users.get(user_id)

    jobs.user_resolver(resolve)

    def deep_in_the_stack() -> object:
        return current_user()

    @jobs.command
    async def whoami(ctx: JobContext) -> None:
        seen.append((ctx.user, deep_in_the_stack()))

    @jobs.command
    def whoami_sync(ctx: JobContext) -> None:
        seen.append((ctx.user, deep_in_the_stack()))

    async with jobs:
        await jobs.enqueue("whoami", user_id="u1", created_by="admin")
        await jobs.enqueue("whoami_sync", user_id="u1")
        missing = await jobs.enqueue("whoami", user_id="ghost")
        await jobs.run_until_idle()
        failed = await jobs.get_job(missing.id)
    assert seen == [({"name": "Ada"}, {"name": "Ada"})] * 2
    assert failed.state is JobState.FAILED and failed.summary.attempts == 1
    assert failed.summary.error_code == "UserNotFound"
    assert failed.summary.error_message == "the user resolver found no user 'ghost'"


async def test_failing_user_resolver_fails_the_job_clearly(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.user_resolver
    def resolve(user_id: str) -> object:
        raise ConnectionError("user service unreachable")

    @jobs.command
    async def act() -> None:
        raise AssertionError("must not run without its user")

    async with jobs:
        ref = await jobs.enqueue("act", user_id="u1")
        await jobs.run_until_idle()
        result = await jobs.get_job(ref.id)
    assert result.summary.error_code == "UserResolverFailed"
    assert result.summary.error_message == (
        "resolving user 'u1' failed: ConnectionError('user service unreachable')"
    )
