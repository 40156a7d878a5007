"""`jobs.sync`: the blocking API from plain threads, beside an engine or without one."""

from __future__ import annotations

import asyncio
import datetime
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from jobs_core import (
    BackgroundJobs,
    DuplicateRefIdError,
    EnqueueRequest,
    JobFailedError,
    JobHandle,
    JobNotFoundError,
    JobsError,
    JobState,
    RateLimit,
    WaitReason,
    WaitTimeoutError,
)
from tests.conftest import FAST
from tests.forking import enqueue_in_a_forked_child

MINUTE = timedelta(minutes=1)


@dataclass
class Greet:
    name: str


def make_app(directory: str) -> BackgroundJobs:
    jobs = BackgroundJobs(directory, settings=FAST)

    @jobs.command
    async def greet(req: Greet) -> str:
        return f"hello {req.name}"

    @jobs.command
    def fail(req: str) -> None:
        raise RuntimeError(req)

    return jobs


@pytest.fixture
def app(store_dir: str) -> Iterator[BackgroundJobs]:
    jobs = make_app(store_dir)
    yield jobs
    jobs.sync.close()
    asyncio.run(jobs.close())


def run_engine_in_thread(jobs: BackgroundJobs) -> tuple[threading.Thread, threading.Event]:
    """The app's engine on its own loop in a thread, as `jobs worker` would run it."""
    ready, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        async with jobs:
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.01)

    thread = threading.Thread(target=asyncio.run, args=(serve(),))
    thread.start()
    assert ready.wait(10)
    return thread, stop


def test_sync_enqueue_and_wait_from_a_plain_thread_with_an_engine(app: BackgroundJobs) -> None:
    thread, stop = run_engine_in_thread(app)
    try:
        ref = app.sync.enqueue("greet", Greet("ada"), tag="web")
        assert app.sync.wait(ref, timeout=10) == "hello ada"
        assert app.sync.get_job(ref.id).state is JobState.COMPLETED
        assert app.sync.get_job(ref.id).summary.tag == "web"
    finally:
        stop.set()
        thread.join()


def test_sync_enqueue_with_a_handle_gives_a_typed_job_handle(store_dir: str) -> None:
    jobs = BackgroundJobs(store_dir, settings=FAST)

    @jobs.command
    async def square(req: int) -> int:
        return req * req

    thread, stop = run_engine_in_thread(jobs)
    try:
        handle = jobs.sync.enqueue(square, 9)
        assert isinstance(handle, JobHandle)
        assert jobs.sync.wait(handle, timeout=10) == 81
    finally:
        stop.set()
        thread.join()
        jobs.sync.close()


def test_sync_calls_raise_the_same_errors(app: BackgroundJobs) -> None:
    app.sync.enqueue("greet", Greet("x"), ref_id="one")
    with pytest.raises(DuplicateRefIdError):
        app.sync.enqueue("greet", Greet("y"), ref_id="one")
    with pytest.raises(JobNotFoundError, match="there is no job 999"):
        app.sync.get_job(999)
    with pytest.raises(WaitTimeoutError):
        app.sync.wait(app.sync.get_job_by_ref("one").summary.id, timeout=0.05)


def test_sync_wait_raises_job_failed_error(app: BackgroundJobs) -> None:
    thread, stop = run_engine_in_thread(app)
    try:
        ref = app.sync.enqueue("fail", "broken", retry_limit=0)
        with pytest.raises(JobFailedError, match="RuntimeError: broken"):
            app.sync.wait(ref, timeout=10)
    finally:
        stop.set()
        thread.join()


def test_sync_admin_calls_without_an_engine(app: BackgroundJobs) -> None:
    refs = app.sync.enqueue_many(
        [EnqueueRequest(command="greet", request=Greet(str(i)), batch_id="b") for i in range(3)]
    )
    assert app.sync.counts()[JobState.QUEUED] == 3
    assert [j.id for j in app.sync.list_queue().items] == [r.id for r in refs]
    assert app.sync.cancel(refs[0].id) is JobState.CANCELLED
    assert app.sync.requeue(refs[0].id) == [refs[0].id]
    assert app.sync.batch_status("b").total == 3
    assert sorted(app.sync.cancel_batch("b")) == sorted(r.id for r in refs)
    each = app.sync.enqueue_each("greet", [Greet("x"), Greet("y")], batch_id="b2")
    assert app.sync.batch_status("b2").total == 2 and each[1].id == each[0].id + 1
    app.sync.recurring("nightly", "@daily", "greet", Greet("n"))
    assert [t.name for t in app.sync.scheduled_tasks()] == ["nightly"]
    app.sync.remove_task("nightly")
    assert app.sync.engines() == []


def test_sync_flow_control_calls(app: BackgroundJobs) -> None:
    settings = app.sync.set_queue("mail", concurrency=2, rate_limit=RateLimit(5, per=MINUTE))
    assert (settings.concurrency, settings.rate_limit) == (2, RateLimit(5, per=MINUTE))
    assert app.sync.pause_queue("mail").paused
    ref = app.sync.enqueue("greet", Greet("q"), queue="mail", ref_id="q1")
    again = app.sync.enqueue("greet", Greet("q"), ref_id="q1", on_conflict="return_existing")
    assert (again.id, again.existing) == (ref.id, True)
    why = app.sync.why_waiting(ref.id)
    assert (why.reasons, why.text) == ([WaitReason.PAUSED], "queue 'mail' is paused")
    assert [(q.name, q.queued, q.paused) for q in app.sync.queues()] == [("mail", 1, True)]
    assert not app.sync.resume_queue("mail").paused
    assert [s.name for s in app.sync.queue_settings()] == ["mail"]


def test_sync_enqueue_is_thread_safe(app: BackgroundJobs) -> None:
    ids: list[int] = []
    lock = threading.Lock()

    def producer(n: int) -> None:
        for i in range(25):
            ref = app.sync.enqueue("greet", Greet(f"{n}-{i}"))
            with lock:
                ids.append(ref.id)

    threads = [threading.Thread(target=producer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 200
    assert app.sync.counts()[JobState.QUEUED] == 200


async def test_sync_from_a_running_event_loop_is_a_clear_error(app: BackgroundJobs) -> None:
    with pytest.raises(JobsError, match=r"running an event loop.*use the async API"):
        app.sync.enqueue("greet", Greet("x"))


def test_sync_close_then_use_again_restarts(app: BackgroundJobs) -> None:
    app.sync.enqueue("greet", Greet("a"))
    app.sync.close()
    app.sync.close()  # twice is harmless
    assert app.sync.counts()[JobState.QUEUED] == 1


def test_sync_in_a_forked_child_starts_its_own_loop_thread(app: BackgroundJobs) -> None:
    app.sync.enqueue("greet", Greet("parent"))  # the parent's loop thread is running
    # The child, as a gunicorn worker forked after the app was loaded.
    assert enqueue_in_a_forked_child(app, "greet", Greet("child")) == 0
    assert app.sync.counts()[JobState.QUEUED] == 2


def test_sync_history_calls_from_a_plain_thread(app: BackgroundJobs) -> None:
    thread, stop = run_engine_in_thread(app)
    try:
        batch_id = app.sync.create_batch("greetings")
        ref = app.sync.enqueue("greet", Greet("bob"), batch_id=batch_id)
        failing = app.sync.enqueue("fail", "no luck", retry_limit=1)
        assert app.sync.wait(ref, timeout=10) == "hello bob"
        with pytest.raises(JobFailedError):
            app.sync.wait(failing, timeout=10)
        app.sync.close_batch(batch_id)
        attempts = app.sync.attempts(failing.id)
        status = app.sync.batch_status(batch_id)
    finally:
        stop.set()
        thread.join()
    assert [a.number for a in attempts] == [1, 2]
    assert attempts[0].error is not None and attempts[0].error.message == "no luck"
    assert status.state.value == "finished" and status.name == "greetings"
    assert app.sync.search("nothing-like-this").items == []
    assert app.sync.purge(datetime.timedelta(days=1), dry_run=True).total == 0
