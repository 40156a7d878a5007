"""Helpers for testing apps that use jobs: drain, eager mode, assertions, an isolated store.

    from jobs_core.testing import assert_enqueued, drain, eager, isolated

`drain(jobs)` runs every job that is due (and, with `advance=True` and a `ManualClock`,
moves the clock to each later job: retries, `run_after`) until the queue is idle.
`eager(jobs)` runs each job inline at enqueue, like huey's immediate mode. The pytest
plugin (`jobs_core.pytest_plugin`, loaded when jobs is installed) gives the fixtures
`jobs_dir`, `jobs_clock` and `jobs_isolated`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar, Unpack, overload

from .clock import Clock, ManualClock
from .enqueue_options import EnqueueOptions
from .errors import JobsError
from .handles import CommandHandle
from .job_refs import JobRefs
from .options import EnqueueRequest
from .records import Job, JobFilter, JobRef, JobState
from .serialization import from_json
from .store.opening import open_store
from .waiting import outcome_of

if TYPE_CHECKING:
    from .app import BackgroundJobs
    from .store.protocol import Store

Req = TypeVar("Req")
MAX_ROUNDS = 10_000


async def drain(jobs: BackgroundJobs, *, advance: bool = False, timeout: float = 30.0) -> None:
    """Run jobs until none is due and none runs (callbacks and released dependents too).

    With `advance=True` the facade's `ManualClock` then jumps to the next job due later
    (a retry after its backoff, a `run_after`) and draining goes on, until no job is left
    queued. Needs the facade entered (`async with jobs:`); build it with
    `start_engine=False` so that jobs run only when drained.
    """
    if jobs._engine is None:
        raise JobsError("drain needs the facade entered: `async with jobs:` first")
    if advance and not isinstance(jobs.clock, ManualClock):
        raise JobsError("drain(advance=True) needs a facade built with a ManualClock")
    for _ in range(MAX_ROUNDS):
        await jobs.run_until_idle(timeout)
        if not advance:
            return
        assert isinstance(jobs.clock, ManualClock)
        due = await jobs.store.next_due(jobs.clock.now_ms())
        if due is None:
            return
        jobs.clock.set(due)
    raise JobsError(f"drain: jobs still due after {MAX_ROUNDS} clock jumps")


@contextmanager
def eager(jobs: BackgroundJobs, *, raise_errors: bool = True) -> Iterator[None]:
    """Run each job inline when it is enqueued, with everything it leads to that is due.

    Inside the block an enqueue stores the job, runs it (once: a job that sets no
    `retry_limit` gets 0) and returns its usual `JobRef` or `JobHandle` once it finished, so
    `wait()` answers at once. A job that fails raises `JobFailedError` from the enqueue call
    (`raise_errors=False` leaves it failed for the test to inspect). Jobs enqueued by a
    running handler run in the same drain. Jobs due later (`run_after`) stay queued: use
    `drain(jobs, advance=True)`. Needs the facade entered, like `drain`.
    """
    stored = jobs.enqueue_many
    depth = 0

    async def enqueue_many(requests: Sequence[EnqueueRequest]) -> list[JobRef]:
        nonlocal depth
        once = [r if r.retry_limit is not None else dataclasses.replace(r, retry_limit=0)
                for r in requests]  # fmt: skip
        refs = await stored(once)
        if depth:  # enqueued by a handler: the drain under way runs it
            return refs
        depth += 1
        try:
            await drain(jobs)
        finally:
            depth -= 1
        if raise_errors:
            for ref in refs:
                found = await jobs.get_job(ref.id)
                if found.state is JobState.FAILED:
                    outcome_of(found)
        return refs

    async def enqueue_each(
        command: str, requests: Iterable[Any], **options: Unpack[EnqueueOptions]
    ) -> JobRefs:
        made = [EnqueueRequest(command=command, request=r, **options) for r in requests]
        return JobRefs.of(await enqueue_many(made))

    vars(jobs)["enqueue_many"] = enqueue_many
    vars(jobs)["enqueue_each"] = enqueue_each  # a handle's enqueue_many too
    try:
        yield
    finally:
        del vars(jobs)["enqueue_many"]
        del vars(jobs)["enqueue_each"]


@overload
async def enqueued(
    jobs: BackgroundJobs, command: CommandHandle[Req, Any], *,
    where: Callable[[Req], object] | None = None,
) -> list[Job]: ...  # fmt: skip


@overload
async def enqueued(
    jobs: BackgroundJobs, command: str, *, where: Callable[[Any], object] | None = None
) -> list[Job]: ...


async def enqueued(
    jobs: BackgroundJobs, command: CommandHandle[Any, Any] | str, *,
    where: Callable[[Any], object] | None = None,
) -> list[Job]:  # fmt: skip
    """Jobs of `command` in the queue (queued, started or executed) whose request, rebuilt
    as the handler's request type, satisfies `where`."""
    name = command if isinstance(command, str) else command.name
    found: list[Job] = []
    cursor: int | None = None
    while True:
        page = await jobs.list_queue(JobFilter(command=name), cursor=cursor, limit=500)
        found.extend(j for j in page.items if where is None or where(_request(jobs, j)))
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


@overload
async def assert_enqueued(
    jobs: BackgroundJobs, command: CommandHandle[Req, Any], *,
    where: Callable[[Req], object] | None = None, count: int | None = None,
) -> list[Job]: ...  # fmt: skip


@overload
async def assert_enqueued(
    jobs: BackgroundJobs, command: str, *, where: Callable[[Any], object] | None = None,
    count: int | None = None,
) -> list[Job]: ...  # fmt: skip


async def assert_enqueued(
    jobs: BackgroundJobs, command: CommandHandle[Any, Any] | str, *,
    where: Callable[[Any], object] | None = None, count: int | None = None,
) -> list[Job]:  # fmt: skip
    """Assert that jobs of `command` matching `where` are queued (exactly `count` if given);
    returns them. The failure message lists the requests that are queued."""
    matching = await enqueued(jobs, command, where=where)
    if (count is None and matching) or (count is not None and len(matching) == count):
        return matching
    name = command if isinstance(command, str) else command.name
    queued = [json.loads(j.request_body) for j in await enqueued(jobs, name)]
    wanted = "a job" if count is None else f"{count} job(s)"
    raise AssertionError(
        f"expected {wanted} of '{name}' matching the filter in the queue, found "
        f"{len(matching)}; queued requests of '{name}': {queued}"
    )


async def assert_not_enqueued(
    jobs: BackgroundJobs, command: CommandHandle[Any, Any] | str, *,
    where: Callable[[Any], object] | None = None,
) -> None:  # fmt: skip
    """Assert that no job of `command` matching `where` is in the queue."""
    await assert_enqueued(jobs, command, where=where, count=0)


def _request(jobs: BackgroundJobs, job: Job) -> Any:
    target = jobs.registry.get(job.command).request_type if job.command in jobs.registry else Any
    return from_json(job.request_body, target)


@contextmanager
def isolated(
    jobs: BackgroundJobs, location: str, *, clock: Clock | None = None
) -> Iterator[BackgroundJobs]:
    """Point an app's facade (and so its handles) at a fresh store at `location` (a
    directory, or a `postgresql://` URL naming an unused schema), with `clock`, for the
    block; its engine runs jobs only when drained. Restored after."""
    saved = (jobs.store, jobs.clock, jobs._start_engine, vars(jobs).pop("sync", None))
    store = open_store(location, jobs.settings)
    jobs.store = store
    jobs.clock = clock or jobs.clock
    jobs._start_engine = False
    try:
        yield jobs
    finally:
        if "sync" in vars(jobs):
            jobs.sync.close()
            del vars(jobs)["sync"]
        jobs.store, jobs.clock, jobs._start_engine = saved[:3]
        if saved[3] is not None:
            vars(jobs)["sync"] = saved[3]
        _close(store)


def _close(store: Store) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(store.close())
        return
    # Inside a loop (an async test), where nothing can be awaited: a server store drops its
    # connections at once; SqliteStore.close does no awaiting, so drive it here.
    terminate = getattr(store, "terminate", None)
    if terminate is not None:
        terminate()
        return
    with suppress(StopIteration):
        store.close().send(None)
