"""Transient jobs (`run_command`): they stop at their timeout like stored jobs, and a failure
reaches the caller as JobFailedError wrapping the handler's exception."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time

import pytest

from jobs_core import (
    JobContext,
    JobFailedError,
    JobsError,
    JobState,
    JobTimeoutError,
    PermanentError,
)
from tests.conftest import FAST, MakeJobs, wait_until

SLOW_SECS = 20.0
"""What a handler would run for if nothing stopped it: far past any test's patience."""


async def test_async_transient_job_is_cancelled_at_its_timeout(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    cancelled = asyncio.Event()

    @jobs.command
    async def slow(ctx: JobContext) -> None:
        try:
            await asyncio.sleep(SLOW_SECS)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with jobs:
        started = time.monotonic()
        handle = jobs.run_command("slow", timeout=0.3)
        with pytest.raises(JobTimeoutError, match=r"command 'slow' timed out after 0.3s") as err:
            await handle
        assert time.monotonic() - started < 5
        assert (err.value.command, err.value.timeout, err.value.code) == ("slow", 0.3, "Timeout")
        assert isinstance(err.value, JobFailedError) and handle.state is JobState.FAILED
        await asyncio.wait_for(cancelled.wait(), 5)


async def test_sync_transient_job_sees_its_cancel_event_at_the_timeout(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs()
    saw_cancel = threading.Event()

    @jobs.command
    def crunch(ctx: JobContext) -> None:
        if ctx.cancel_event.wait(SLOW_SECS):
            saw_cancel.set()

    async with jobs:
        started = time.monotonic()
        with pytest.raises(JobTimeoutError, match=r"command 'crunch' timed out after 0\.3s"):
            await jobs.run_command("crunch", timeout=0.3)
        assert time.monotonic() - started < 5
        assert saw_cancel.wait(5)


async def test_transient_timeout_defaults_to_command_then_settings(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(settings=dataclasses.replace(FAST, default_timeout_secs=0.3))

    async def nap(ctx: JobContext) -> None:
        await asyncio.sleep(SLOW_SECS)

    jobs.command("nap")(nap)
    jobs.command("short_nap", timeout=0.2)(nap)
    async with jobs:
        with pytest.raises(JobTimeoutError, match=r"timed out after 0\.3s"):
            await jobs.run_command("nap")
        with pytest.raises(JobTimeoutError, match=r"timed out after 0\.2s"):
            await jobs.run_command("short_nap")


async def test_transient_timeout_starts_when_its_worker_is_free(make_jobs: MakeJobs) -> None:
    """Waiting behind the named worker's other job is not running: it does not count."""
    jobs = make_jobs()
    gate = asyncio.Event()

    @jobs.command(worker="smtp")
    async def mail(req: dict[str, str]) -> str:
        if req["name"] == "first":
            await gate.wait()
        return req["name"]

    async with jobs:
        first = jobs.run_command("mail", {"name": "first"})
        second = jobs.run_command("mail", {"name": "second"}, timeout=0.3)
        await asyncio.sleep(0.5)  # the second waits past its timeout without having run
        gate.set()
        assert (await first, await second) == ("first", "second")


async def test_transient_failure_wraps_the_handler_error(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()

    class Declined(Exception):
        pass

    @jobs.command
    async def charge(req: dict[str, int]) -> None:
        raise Declined(f"card declined for {req['cents']} cents")

    @jobs.command
    async def refuse(ctx: JobContext) -> None:
        raise PermanentError("no such account", code="NoAccount")

    async with jobs:
        with pytest.raises(JobFailedError) as failed:
            await jobs.run_command("charge", {"cents": 500})
        with pytest.raises(JobFailedError, match="command 'refuse' failed: NoAccount"):
            await jobs.run_command("refuse")
    error = failed.value
    assert str(error) == "command 'charge' failed: Declined: card declined for 500 cents"
    assert isinstance(error.__cause__, Declined) and isinstance(error, JobsError)
    assert (error.command, error.code, error.message) == (
        "charge",
        "Declined",
        "card declined for 500 cents",
    )


async def test_cancelled_transient_handle_stops_the_handler(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    running = asyncio.Event()
    stopped = asyncio.Event()

    @jobs.command
    async def wait_forever(ctx: JobContext) -> None:
        running.set()
        try:
            await asyncio.sleep(SLOW_SECS)
        finally:
            stopped.set()

    async with jobs:
        handle = jobs.run_command("wait_forever")
        await asyncio.wait_for(running.wait(), 5)
        handle.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handle
        await wait_until(stopped.is_set, 5, "the handler to stop")
        assert handle.state is JobState.CANCELLED
