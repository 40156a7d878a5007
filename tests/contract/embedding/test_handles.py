"""Typed command handles at run time: callable as the handler, enqueue, run, wait."""

from __future__ import annotations

import asyncio
import dataclasses
import typing
from dataclasses import dataclass
from datetime import timedelta

import pytest

from jobs_core import (
    EnqueueOptions,
    EnqueueRequest,
    JobCancelledError,
    JobContext,
    JobFailedError,
    JobHandle,
    JobState,
    ManualClock,
    UnknownCommandError,
    WaitTimeoutError,
)
from tests.conftest import MakeJobs


@dataclass
class Order:
    id: int
    amount: float


@dataclass
class Receipt:
    order_id: int
    total: float


def test_enqueue_options_match_enqueue_request_fields() -> None:
    fields = {f.name for f in dataclasses.fields(EnqueueRequest)} - {"command", "request", "meta"}
    assert set(typing.get_type_hints(EnqueueOptions)) == fields


async def test_handle_calls_the_handler_and_keeps_its_identity(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(start_engine=False)

    @jobs.command("charge", worker="payments", retry_limit=1)
    async def charge(req: Order, ctx: JobContext) -> Receipt:
        """Charge an order."""
        return Receipt(order_id=req.id, total=req.amount * 2)

    assert charge.name == "charge"
    assert charge.__doc__ == "Charge an order."
    assert jobs.registry.get("charge").worker == "payments"
    assert await charge(Order(1, 2.0), None) == Receipt(order_id=1, total=4.0)  # type: ignore[arg-type]


async def test_handle_enqueue_wait_returns_the_typed_result(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    def charge(req: Order) -> Receipt:
        return Receipt(order_id=req.id, total=req.amount + 1)

    async with jobs:
        handle = await charge.enqueue(Order(7, 1.5), tag="shop")
        assert isinstance(handle, JobHandle) and handle.command == "charge"
        assert (await handle.get()).summary.tag == "shop"
        await jobs.run_until_idle()
        assert await handle.wait(timeout=5) == Receipt(order_id=7, total=2.5)
        assert await jobs.wait(handle.id, timeout=5) == {"order_id": 7, "total": 2.5}


async def test_handle_enqueue_many_and_enqueue_request_mix_commands(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(start_engine=False)

    @jobs.command
    async def double(req: int) -> int:
        return req * 2

    @jobs.command
    async def ping() -> str:
        return "pong"

    async with jobs:
        handles = await double.enqueue_many([1, 2, 3], batch_id="b")
        mixed = await jobs.enqueue_many([double.enqueue_request(10), ping.enqueue_request(None)])
        await jobs.run_until_idle()
        assert [await h.wait(timeout=5) for h in handles] == [2, 4, 6]
        assert (await jobs.batch_status("b")).total == 3
        assert [await jobs.wait(ref, timeout=5) for ref in mixed] == [20, "pong"]


async def test_handle_run_returns_the_result_without_storing(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()

    @jobs.command(worker="w")
    async def add(req: tuple[int, int], ctx: JobContext) -> int:
        return req[0] + req[1]

    async with jobs:
        assert await add.run((2, 3)) == 5
        assert sum((await jobs.counts()).values()) == 0  # nothing stored


async def test_enqueue_by_name_still_works_and_unknown_names_fail(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(start_engine=False)

    @jobs.command
    async def echo(req: str) -> str:
        return req

    async with jobs:
        ref = await jobs.enqueue("echo", "hi")
        await jobs.run_until_idle()
        assert await jobs.wait(ref, timeout=5) == "hi"
        with pytest.raises(UnknownCommandError, match="no command named 'ech'"):
            await jobs.enqueue("ech", "hi")


async def test_wait_raises_for_failed_and_cancelled_jobs(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(start_engine=False)

    @jobs.command
    async def explode(req: str) -> None:
        raise ValueError(f"bad {req}")

    async with jobs:
        failing = await explode.enqueue("input", retry_limit=0)
        cancelled = await explode.enqueue("later", run_after=timedelta(hours=1))
        await jobs.run_until_idle()
        with pytest.raises(JobFailedError, match=r"failed: ValueError: bad input") as caught:
            await failing.wait(timeout=5)
        assert caught.value.job is not None and caught.value.job.state is JobState.FAILED
        await cancelled.cancel()
        with pytest.raises(JobCancelledError, match="was cancelled"):
            await cancelled.wait(timeout=5)


async def test_wait_times_out_with_a_timeout_error(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(start_engine=False)

    @jobs.command
    async def never(req: None) -> None: ...

    ref = await jobs.enqueue("never")
    with pytest.raises(WaitTimeoutError, match=f"job {ref.id} did not finish within 0.05s"):
        await jobs.wait(ref, timeout=0.05)
    with pytest.raises(TimeoutError):
        await jobs.wait(ref, timeout=0.01)


async def test_wait_wakes_when_the_local_engine_finishes(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    started = asyncio.Event()
    release = asyncio.Event()

    @jobs.command
    async def gated() -> str:
        started.set()
        await release.wait()
        return "done"

    async with jobs:
        handle = await gated.enqueue()
        await started.wait()
        waiter = asyncio.create_task(handle.wait(timeout=10))
        await asyncio.sleep(0)  # let the waiter read the job and subscribe
        assert jobs.engine.on_finished is not None
        release.set()
        assert await waiter == "done"
