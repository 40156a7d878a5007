"""Queues: store-wide concurrency, pause and resume, rate limits, priorities, named workers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from jobs_core import (
    DEFAULT_QUEUE,
    EnqueueRequest,
    InvalidOptionError,
    JobContext,
    JobState,
    ManualClock,
    RateLimit,
    Settings,
    WaitReason,
)
from jobs_core.testing import drain
from tests.conftest import MakeJobs, wait_until


class Gate:
    """Handlers that block until released, counting how many run at once."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.running = 0
        self.most = 0
        self.done = 0

    async def pass_through(self) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await self.open.wait()
        finally:
            self.running -= 1
            self.done += 1


async def test_queue_concurrency_holds_across_two_engines(make_jobs: MakeJobs) -> None:
    gate = Gate()
    engines = [make_jobs(), make_jobs()]
    for jobs in engines:

        @jobs.command(queue="limited")
        async def work(ctx: JobContext) -> None:
            await gate.pass_through()

    first, second = engines
    await first.set_queue("limited", concurrency=3)
    async with first, second:
        refs = await first.enqueue_many([EnqueueRequest(command="work") for _ in range(12)])
        await wait_until(lambda: gate.running == 3, what="three jobs running")
        [info] = [q for q in await second.queues() if q.name == "limited"]
        assert (info.concurrency, info.running, info.queued) == (3, 3, 9)
        waiting = [r for r in refs if (await first.get_job(r.id)).state is JobState.QUEUED]
        why = await second.why_waiting(waiting[0].id)
        assert why.reasons == [WaitReason.QUEUE_FULL]
        assert why.text == "queue 'limited' is full (3 running, concurrency 3)"
        await asyncio.sleep(0.3)  # both engines keep claiming meanwhile: still three
        assert gate.running == 3
        gate.open.set()
        await wait_until(lambda: gate.done == 12, what="all twelve jobs")
    assert gate.most == 3


async def test_paused_queue_starts_nothing_until_resumed_and_stays_paused_on_reopen(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(start_engine=False)
    ran: list[str] = []

    async def send_mail(req: str) -> None:
        ran.append(req)

    send = jobs.command("send", queue="mail")(send_mail)

    @jobs.command
    async def other(req: str) -> None:
        ran.append(req)

    settings = await jobs.pause_queue("mail")
    assert (settings.name, settings.paused) == ("mail", True)
    async with jobs:
        held = await send.enqueue("held")
        await other.enqueue("free")
        await jobs.run_until_idle()
        assert ran == ["free"]
        why = await jobs.why_waiting(held.id)
        assert (why.reasons, why.text) == ([WaitReason.PAUSED], "queue 'mail' is paused")
    reopened = make_jobs(start_engine=False)
    reopened.command("send", queue="mail")(send_mail)
    assert [(s.name, s.paused) for s in await reopened.queue_settings()] == [("mail", True)]
    await reopened.resume_queue("mail")
    async with reopened:
        await reopened.run_until_idle()
    assert ran == ["free", "held"]


async def test_rate_limit_allows_that_many_starts_in_any_window(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(start_engine=False, clock=clock)

    @jobs.command(queue="api")
    async def call(ctx: JobContext) -> None:
        return None

    await jobs.set_queue("api", rate_limit=RateLimit(2, per=timedelta(seconds=10)))
    t0 = clock.now_ms()
    async with jobs:
        refs = await call.enqueue_many([None] * 5)
        await jobs.run_until_idle()
        assert await _states(jobs, refs) == ["completed"] * 2 + ["queued"] * 3
        why = await jobs.why_waiting(refs[2].id)
        assert why.reasons == [WaitReason.RATE_LIMITED] and why.until == t0 + 10_000
        assert why.text.startswith("queue 'api' is rate limited (2 started, limit 2/10s)")
        [info] = await jobs.queues()
        assert (info.rate_limit, info.recent_starts) == (RateLimit(2, per=timedelta(seconds=10)), 2)
        clock.advance(9.999)
        await jobs.run_until_idle()
        assert await _states(jobs, refs) == ["completed"] * 2 + ["queued"] * 3
        assert await jobs.store.next_due(clock.now_ms()) == t0 + 10_000
        await drain(jobs, advance=True)  # the clock jumps to each window's end
        starts = [(await jobs.get_job(r.id)).summary.started_date for r in refs]
    assert starts == [t0, t0, t0 + 10_000, t0 + 10_000, t0 + 20_000]


async def test_priority_orders_due_jobs_of_a_queue_and_equals_run_oldest_first(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(start_engine=False, clock=clock, settings=Settings(concurrency=1))
    order: list[str] = []

    @jobs.command
    async def step(req: str) -> None:
        order.append(req)

    async with jobs:
        await step.enqueue("a0")
        await step.enqueue("b5", priority=5)
        await step.enqueue("c0")
        await step.enqueue("d5", priority=5)
        await step.enqueue("e-1", priority=-1)
        await step.enqueue("f9-later", priority=9, run_after=timedelta(minutes=1))
        await jobs.run_until_idle()
        assert order == ["b5", "d5", "a0", "c0", "e-1"]  # priority orders only due jobs
        await drain(jobs, advance=True)
    assert order[-1] == "f9-later"


async def test_priority_orders_jobs_across_the_commands_an_engine_runs(
    make_jobs: MakeJobs,
) -> None:
    """A claim reads each command's jobs apart (the ready index is by command) and merges
    them: priority then due order hold across commands, for a named worker too, and jobs of
    a command the engine does not run stay queued."""
    producer = make_jobs(start_engine=False)
    jobs = make_jobs(start_engine=False, settings=Settings(concurrency=1))
    order: list[str] = []

    async def record(req: str) -> None:
        order.append(req)

    for name in ("alpha", "beta"):
        for app in (producer, jobs):
            app.command(name)(record)
            app.command(f"{name}_solo", worker="solo")(record)
    producer.command("other")(record)
    async with producer, jobs:
        first = await producer.enqueue("other", "x")
        for command, req, priority in (
            ("alpha", "a0", 0), ("beta", "b2", 2), ("alpha", "a1", 1), ("beta", "b0", 0),
            ("alpha", "a2", 2), ("alpha_solo", "s0", 0), ("beta_solo", "s1", 1),
        ):  # fmt: skip
            await producer.enqueue(command, req, priority=priority)
        await jobs.run_until_idle()
        other = await jobs.get_job(first.id)
    default = [r for r in order if not r.startswith("s")]
    assert default == ["b2", "a2", "a1", "a0", "b0"]
    assert [r for r in order if r.startswith("s")] == ["s1", "s0"]
    assert other.summary.state is JobState.QUEUED


async def test_strict_priority_starves_low_jobs_of_a_queue_but_not_of_their_own_queue(
    make_jobs: MakeJobs,
) -> None:
    """A steady stream of high-priority jobs holds a low one back as long as it lasts; in a
    queue of its own the low job gets its turn at once (queues take turns in a claim)."""
    shared = await _stream_order(make_jobs, DEFAULT_QUEUE)
    own = await _stream_order(make_jobs, "bulk")
    assert shared.index("low") == 10 and len(shared) == 11
    assert own.index("low") == 1 and len(own) == 11


async def _stream_order(make_jobs: MakeJobs, low_queue: str) -> list[str]:
    """The order of ten urgent jobs, each enqueueing the next, and one low job."""
    jobs = make_jobs(start_engine=False, settings=Settings(concurrency=1))
    order: list[str] = []

    @jobs.command
    async def urgent(n: int) -> None:
        order.append(f"urgent {n}")
        if n < 10:  # each urgent job brings the next one: a steady stream
            await jobs.enqueue("urgent", n + 1, priority=10)

    @jobs.command
    async def low(ctx: JobContext) -> None:
        order.append("low")

    async with jobs:
        await jobs.enqueue("urgent", 1, priority=10)
        await jobs.enqueue("low", queue=low_queue)
        await jobs.run_until_idle()
    return order


async def test_named_worker_is_a_queue_of_one_that_can_be_paused(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(start_engine=False)
    ran: list[int] = []

    @jobs.command(worker="smtp")
    async def mail(n: int) -> None:
        ran.append(n)

    async with jobs:
        with pytest.raises(InvalidOptionError, match="queue 'smtp' is a named worker's"):
            await jobs.set_queue("smtp", concurrency=3)
        with pytest.raises(InvalidOptionError, match="whose jobs are in the queue 'smtp'"):
            await mail.enqueue(1, queue="other")
        await jobs.pause_queue("smtp")
        refs = await mail.enqueue_many([1, 2, 3])
        await jobs.run_until_idle()
        assert ran == []
        [info] = await jobs.queues()
        assert (info.name, info.worker, info.concurrency, info.paused, info.queued) == (
            "smtp", True, 1, True, 3,
        )  # fmt: skip
        assert (await jobs.get_job(refs[0].id)).job.queue == "smtp"  # type: ignore[union-attr]
        await jobs.resume_queue("smtp")
        await jobs.run_until_idle()
    assert ran == [1, 2, 3]


async def test_queue_figures_count_finished_and_failed_jobs_per_queue(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(start_engine=False)

    @jobs.command(queue="reports")
    async def report(ok: bool) -> None:
        if not ok:
            raise RuntimeError("no template")

    async with jobs:
        await report.enqueue_many([True, True, False], retry_limit=0)
        await jobs.enqueue("report", True, queue="other")
        await jobs.run_until_idle()
        figures = {q.name: (q.finished_15m, q.failed_15m, q.queued, q.running) for q in
                   await jobs.queues()}  # fmt: skip
    assert figures == {"other": (1, 0, 0, 0), "reports": (2, 1, 0, 0)}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 0}, "concurrency must be an int >= 1 (or None: no limit), got 0"),
        ({"concurrency": "3"}, "concurrency must be an int >= 1"),
        ({"rate_limit": 10}, "rate_limit must be a RateLimit (or None: no limit), got 10"),
        ({"paused": "yes"}, "paused must be True, False or None, got 'yes'"),
    ],
)
async def test_set_queue_refuses_bad_settings_naming_them(
    make_jobs: MakeJobs, options: dict[str, object], message: str
) -> None:
    jobs = make_jobs(start_engine=False)
    with pytest.raises(InvalidOptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await jobs.set_queue("q", **options)  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError, match="queue name must be a non-empty name"):
        await jobs.set_queue(" padded ")
    assert await jobs.queue_settings() == []


async def test_set_queue_changes_only_what_it_is_given_and_none_removes_a_limit(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(start_engine=False)
    rate = RateLimit(5, per=timedelta(minutes=1))
    await jobs.set_queue("q", concurrency=4, rate_limit=rate)
    paused = await jobs.set_queue("q", paused=True)
    assert (paused.concurrency, paused.rate_limit, paused.paused) == (4, rate, True)
    cleared = await jobs.set_queue("q", concurrency=None, rate_limit=None)
    assert (cleared.concurrency, cleared.rate_limit, cleared.paused) == (None, None, True)


async def _states(jobs: object, refs: list[object]) -> list[str]:
    from jobs_core import BackgroundJobs, JobRef

    assert isinstance(jobs, BackgroundJobs)
    return [str((await jobs.get_job(r.id)).state) for r in refs if isinstance(r, JobRef)]


async def test_scheduled_runs_keep_their_commands_queue_and_priority(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    from jobs_core import Schedule

    jobs = make_jobs(start_engine=False, clock=clock)
    jobs.command("digest", queue="reports", priority=3)(lambda: None)
    await jobs.pause_queue("reports")
    async with jobs:
        await jobs.recurring("hourly digest", Schedule.interval(3600), "digest")
        await jobs.run_until_idle()  # the task enqueues its first run, which waits
        [job] = (await jobs.list_queue()).items
    assert (job.command, job.queue, job.priority) == ("digest", "reports", 3)
