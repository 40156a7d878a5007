"""Concurrency keys: at most N jobs with one key run at once, store-wide."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

import pytest

from jobs_core import EnqueueRequest, InvalidOptionError, JobContext, WaitReason
from tests.conftest import MakeJobs, wait_until


@dataclass
class Charge:
    user_id: int
    amount: int


class Tracker:
    """Per-key counts of running handlers, their peak, and the order jobs started in."""

    def __init__(self) -> None:
        self.running: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.started: list[int] = []

    async def run(self, ctx: JobContext, hold: asyncio.Event | None = None) -> None:
        key = ctx.job.concurrency_key or ""
        self.running[key] = self.running.get(key, 0) + 1
        self.peak[key] = max(self.peak.get(key, 0), self.running[key])
        self.started.append(ctx.job.id)
        try:
            if hold is not None:
                await hold.wait()
            else:
                await asyncio.sleep(random.uniform(0, 0.005))
        finally:
            self.running[key] -= 1


async def test_a_key_runs_one_job_at_a_time_while_other_keys_run(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    hold = asyncio.Event()
    tracker = Tracker()

    @jobs.command(concurrency_key="user:{user_id}")
    async def charge(req: Charge, ctx: JobContext) -> None:
        await tracker.run(ctx, hold if req.amount == 1 else None)

    async with jobs:
        first = await charge.enqueue(Charge(42, 1))
        await wait_until(lambda: tracker.started == [first.id], what="the first job")
        second = await charge.enqueue(Charge(42, 2))
        other = await charge.enqueue(Charge(7, 2))
        await wait_until(lambda: other.id in tracker.started, what="another key's job")
        why = await jobs.why_waiting(second.id)
        assert why.reasons == [WaitReason.CONCURRENCY_KEY]
        assert why.text == "waiting on key 'user:42' (1 running, limit 1)"
        assert second.id not in tracker.started
        hold.set()
        await wait_until(lambda: second.id in tracker.started, what="the second job")
        job = (await jobs.get_job(second.id)).job
    assert job is not None and job.concurrency_key == "user:42"


async def test_many_jobs_of_few_keys_never_overlap_and_all_run(make_jobs: MakeJobs) -> None:
    """Parked jobs (a key at its limit) come back when their key's job ends; none is lost
    and no key ever runs two, with two engines claiming."""
    tracker = Tracker()
    engines = [make_jobs(), make_jobs()]
    for jobs in engines:

        @jobs.command
        async def step(n: int, ctx: JobContext) -> None:
            await tracker.run(ctx)

    first, second = engines
    async with first, second:
        requests = [
            EnqueueRequest(command="step", request=n, concurrency_key=f"k{n % 3}")
            for n in range(60)
        ] + [EnqueueRequest(command="step", request=n) for n in range(60, 80)]
        random.Random(3).shuffle(requests)
        await first.enqueue_many(requests)
        await wait_until(lambda: len(tracker.started) == 80, timeout=30, what="eighty jobs")
    assert tracker.peak == {"k0": 1, "k1": 1, "k2": 1, "": tracker.peak[""]}


async def test_a_key_limit_lets_that_many_run(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    hold = asyncio.Event()
    tracker = Tracker()

    @jobs.command(concurrency_key="tenant", concurrency_limit=2)
    async def sync_tenant(ctx: JobContext) -> None:
        await tracker.run(ctx, hold)

    async with jobs:
        refs = await sync_tenant.enqueue_many([None] * 5)
        await wait_until(lambda: len(tracker.started) == 2, what="two jobs")
        await asyncio.sleep(0.2)
        assert len(tracker.started) == 2
        assert (await jobs.why_waiting(refs[4].id)).text == (
            "waiting on key 'tenant' (2 running, limit 2)"
        )
        hold.set()
        await wait_until(lambda: len(tracker.started) == 5, what="all five")
    assert tracker.peak == {"tenant": 2}


async def test_key_from_a_function_of_the_request_and_enqueue_elsewhere_needs_it(
    make_jobs: MakeJobs,
) -> None:
    engine = make_jobs()  # its engine declares the command in the store

    @engine.command(concurrency_key=lambda req: f"user:{req.user_id}" if req.amount else None)
    async def refund(req: Charge) -> None:
        return None

    async with engine:
        keyed = await refund.enqueue(Charge(5, 10))
        unkeyed = await refund.enqueue(Charge(5, 0))
        explicit = await refund.enqueue(Charge(5, 10), concurrency_key="manual")
        found = [(await engine.get_job(r.id)).job for r in (keyed, unkeyed, explicit)]
        assert [j.concurrency_key for j in found if j] == ["user:5", None, "manual"]
    web = make_jobs(start_engine=False)  # a process without the handler
    with pytest.raises(InvalidOptionError, match="computes its concurrency key from the request"):
        await web.enqueue("refund", {"user_id": 5, "amount": 1})
    ref = await web.enqueue("refund", {"user_id": 5, "amount": 1}, concurrency_key="user:5")
    assert (await web.get_job(ref.id)).job.concurrency_key == "user:5"  # type: ignore[union-attr]


async def test_key_template_is_declared_so_an_enqueue_by_name_gets_the_key(
    make_jobs: MakeJobs,
) -> None:
    engine = make_jobs()

    @engine.command(concurrency_key="user:{user_id}", concurrency_limit=3)
    async def charge(req: dict[str, int]) -> None:
        return None

    async with engine:  # its engine declares the command in the store
        pass
    web = make_jobs(start_engine=False)
    ref = await web.enqueue("charge", {"user_id": 9, "amount": 1})
    job = (await web.get_job(ref.id)).job
    assert job is not None and (job.concurrency_key, job.concurrency_limit) == ("user:9", 3)
    with pytest.raises(InvalidOptionError, match=r"needs the request field\(s\) user_id"):
        await web.enqueue("charge", {"amount": 1})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency_key": ""}, "concurrency_key must not be empty"),
        ({"concurrency_key": "k", "concurrency_limit": 0}, "concurrency_limit must be an int >= 1"),
    ],
)
async def test_bad_key_options_are_refused_at_enqueue(
    make_jobs: MakeJobs, options: dict[str, object], message: str
) -> None:
    jobs = make_jobs(start_engine=False)
    jobs.command("noop")(lambda: None)
    with pytest.raises(InvalidOptionError, match=message):
        await jobs.enqueue("noop", **options)  # type: ignore[arg-type]


def test_bad_command_key_options_are_refused_at_registration(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(start_engine=False)
    with pytest.raises(InvalidOptionError, match="command 'bad': concurrency_key must be"):
        jobs.command("bad", concurrency_key=3)(lambda: None)  # type: ignore[call-overload]
    with pytest.raises(InvalidOptionError, match="command 'bad2': concurrency_key template"):
        jobs.command("bad2", concurrency_key="user:{id")(lambda: None)


async def test_jobs_of_one_key_run_back_to_back_not_one_per_poll(make_jobs: MakeJobs) -> None:
    """The next job of a key is claimed once the outcome that frees the key is written (on
    PostgreSQL that write runs beside the claims: a claim that came back short beside it
    looks again after it; else each job waited for the listener's 1 s probe)."""
    jobs = make_jobs()
    ran: list[int] = []

    @jobs.command(concurrency_key="one")
    async def step(n: int) -> None:
        ran.append(n)

    async with jobs:
        await jobs.enqueue_many([EnqueueRequest(command="step", request=n) for n in range(12)])
        # One job a 1 s probe would take 11 s or more; back to back takes milliseconds
        # (under a loaded -n 2 suite once over 4 s: PostgreSQL round trips slow down).
        await wait_until(lambda: len(ran) == 12, timeout=8.0, what="12 jobs of one key")
    assert sorted(ran) == list(range(12))
