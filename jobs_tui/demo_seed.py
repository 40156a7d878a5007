"""A deterministic seeded store (fixed clock, fixed ids) for snapshots, screenshots and demos:
history across a month, queued and blocked jobs, scheduled tasks, and an engine at work.

`python -m jobs_tui.demo_seed DIR` is the engine at work: a child process that registers a
live engine with a fixed identity, leaves two jobs running with progress and one waiting
for its retry, then exits without a word to the store (as a process that is still running
would look to the app at the seed's clock)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from jobs_core import (
    BackgroundJobs,
    JobContext,
    ManualClock,
    RateLimit,
    Schedule,
    Settings,
    to_ms,
)

SEED_START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
"""When the seeded history begins."""

SEED_NOW_MS = to_ms(SEED_START) + 10 * 60_000
"""The clock the app should show after seeding: ten minutes into the history."""

WORK_SECONDS = 0.21
"""Real time each history job takes: every duration lands in the [200, 500) ms bucket, so
the per-command figures (measured in real time) come out the same on every run."""

ENGINE_ID = "web-1:4242:5eed0001"
"""The identity of the seeded engine at work (a host that is not this one)."""


TOUR: dict[str, tuple[str, ...]] = {
    "dashboard": (),
    "queue": ("2",),
    "completed": ("3",),
    "failed": ("4",),
    "tasks": ("5",),
    "workers": ("6",),
    "commands": ("7",),
    "queues": ("8",),
    "job_detail": ("3", "enter"),
    "job_detail_running": ("colon", "1", "7", "enter"),
    "batch": ("colon", "2", "enter", "b"),
    "relations": ("colon", "1", "4", "enter", "t"),
    "help": ("2", "question_mark"),
    "confirm_cancel": ("2", "c"),
    "filter_error": ("4", "slash", *"colour:red", "enter"),
    "filtered": ("3", "slash", *"command:resize* -tag:photos", "enter"),
    "marked_requeue": ("4", "space", "down", "space", "r"),
    "copy_menu": ("4", "y"),
    "jump": ("colon",),
    "queue_concurrency": ("8", "e"),
    "queue_rate_limit": ("8", "down", "r"),
}
"""Every screen and modal of the app on the seeded store, and the keys that reach it from
the dashboard (the snapshot tests and `scripts/screenshots.py` take this tour)."""


class ReportFailed(Exception):
    """The error the failing demo command raises."""


def seed_clock() -> ManualClock:
    """A clock fixed at `SEED_NOW_MS`, for the app that shows the seeded store."""
    return ManualClock(SEED_NOW_MS)


def _work() -> None:
    # Blocking on purpose: handlers run one after the other, so the seed's clock moves the
    # same way on every run.
    time.sleep(WORK_SECONDS)


def _register(jobs: BackgroundJobs, clock: ManualClock) -> None:
    jobs.user_resolver(lambda user_id: {"id": user_id})

    @jobs.command
    async def resize_image(req: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        ctx.log.info("resizing %s", req["path"])
        ctx.progress(0.5, "half way")
        _work()
        clock.advance(2)
        ctx.log.info("wrote %s", req["path"].replace(".png", "_small.png"))
        ctx.progress(1.0, "done")
        return {"path": req["path"], "width": 320, "height": 200}

    @jobs.command
    async def send_report(req: dict[str, Any], ctx: JobContext) -> None:
        ctx.log.info("building report for %s", req["customer"])
        ctx.progress(0.3, "rendering")
        _work()
        clock.advance(1)
        raise ReportFailed(f"template missing for customer {req['customer']}")

    async def send_email(req: dict[str, Any], ctx: JobContext) -> dict[str, str]:
        ctx.log.info("sending to %s", req["to"])
        _work()
        return {"message_id": f"<{req['to']}>"}

    jobs.command("send_email", worker="mailer")(send_email)

    @jobs.command
    async def import_csv(req: dict[str, Any], ctx: JobContext) -> int:
        _work()
        ctx.progress(1.0, "imported")
        return 42


async def _enqueue_history(jobs: BackgroundJobs, clock: ManualClock) -> None:
    photos = await jobs.create_batch("photos", batch_id="b-photos")
    for n in range(1, 5):  # ids 1-4: a batch, closed and finished
        await jobs.enqueue(
            "resize_image", {"path": f"/img/photo{n}.png"}, tag="photos", batch_id=photos.id,
            created_by="alice", user_id="u1",
        )  # fmt: skip
        clock.advance(30)
    await photos.close()
    await jobs.enqueue(  # id 5: fails with a traceback
        "send_report", {"customer": "acme"}, retry_limit=0, tag="reports", created_by="bob",
        ref_id="report-acme",
    )  # fmt: skip
    await jobs.enqueue("send_email", {"to": "carol@example.com"}, tag="mail")  # id 6
    await jobs.run_until_idle()
    clock.advance(60)
    first = await jobs.enqueue("import_csv", {"file": "customers.csv"}, created_by="alice")  # 7
    await jobs.enqueue(  # id 8: runs after 7 (dependency chain)
        "send_email", {"to": "alice@example.com"}, depends_on=first.id, tag="mail"
    )
    await jobs.run_until_idle()


async def _enqueue_waiting(jobs: BackgroundJobs, clock: ManualClock) -> None:
    clock.advance(60)
    later = timedelta(hours=2)
    cancelled = await jobs.enqueue("import_csv", {"file": "old.csv"}, run_after=later)  # 9
    await jobs.cancel(cancelled.id)
    for n in range(10, 14):  # ids 10-13: queued for later, one batch
        await jobs.enqueue(
            "resize_image", {"path": f"/img/late{n}.png"}, run_after=later, tag="photos",
            batch_id="b-late", created_by="alice",
        )  # fmt: skip
    blocked = await jobs.enqueue("send_report", {"customer": "globex"}, run_after=later)  # 14
    await jobs.enqueue("send_email", {"to": "ops@example.com"}, depends_on=blocked.id)  # 15
    await jobs.run_until_idle()


async def _schedule_tasks(jobs: BackgroundJobs, clock: ManualClock) -> None:
    """A nightly cron task, an interval task that has run once, and a paused weekly one."""
    clock.set(SEED_NOW_MS - 2 * 60_000)  # so the interval task's next run is still ahead
    await jobs.recurring(
        "nightly-report", Schedule.cron("0 2 * * *", tz="Europe/Paris"), "send_report",
        {"customer": "all"},
    )  # fmt: skip
    await jobs.recurring(
        "thumbnails", Schedule.interval(300), "resize_image", {"path": "/img/thumbs.png"}
    )
    await jobs.run_until_idle()  # a new interval task runs at once (id 16)
    await jobs.recurring("weekly-digest", Schedule.weekly(), "send_email", {"to": "team"})
    await jobs.pause_task("weekly-digest")


async def _set_queues(jobs: BackgroundJobs) -> None:
    """Queue settings for the Queues view: a rate-limited named worker, a paused queue."""
    await jobs.set_queue("mailer", rate_limit=RateLimit(30, per=timedelta(minutes=1)))
    await jobs.set_queue("reports", concurrency=2, paused=True)


async def seed_store(directory: str, *, at_work: bool = True) -> None:
    """Create a store in `directory` with completed, failed, cancelled and queued jobs,
    scheduled tasks and (with `at_work`) a live engine running jobs 17 and 18."""
    clock = ManualClock(SEED_START)
    jobs = BackgroundJobs(directory, clock=clock, start_engine=False)
    _register(jobs, clock)
    await jobs.start()
    try:
        await _enqueue_history(jobs, clock)
        await _enqueue_waiting(jobs, clock)
        await _schedule_tasks(jobs, clock)
        await _set_queues(jobs)
    finally:
        await jobs.stop()
    if at_work:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "jobs_tui.demo_seed", directory
        )
        if await child.wait() != 0:
            raise RuntimeError(f"the seeded engine at work failed ({child.returncode})")


# -- the engine at work (a child process) ---------------------------------------------------

WORK_SETTINGS = Settings(
    heartbeat_secs=0.05, progress_flush_secs=0.01, retry_backoff_secs=30.0, retry_jitter=0.0
)


async def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + 20
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"seeding: timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def engine_at_work(directory: str) -> None:
    """Start an engine with a fixed identity, leave it working, and exit hard."""
    clock = ManualClock(SEED_NOW_MS - 95_000)
    jobs = BackgroundJobs(directory, clock=clock, settings=WORK_SETTINGS, start_engine=False)

    async def long_running(req: dict[str, Any], ctx: JobContext) -> None:
        ctx.log.info("working on %s", req["what"])
        ctx.progress(req["progress"], req["status"])
        await asyncio.Event().wait()

    async def send_report(req: dict[str, Any], ctx: JobContext) -> None:
        raise ReportFailed(f"the mail server refused the report for {req['customer']}")

    jobs.command("resize_image")(long_running)
    jobs.command("import_csv")(long_running)
    jobs.command("send_report")(send_report)
    await jobs.start()
    engine = jobs.engine
    engine.id, engine.host, engine.pid = ENGINE_ID, "web-1", 4242
    await engine.start()
    running = [
        ("resize_image", {"what": "/img/batch/0042.png", "progress": 0.42,
                          "status": "resizing 42 of 100"}, -95_000),  # 17
        ("import_csv", {"what": "orders.csv", "progress": 0.8,
                        "status": "row 80,000 of 100,000"}, -40_000),  # 18
    ]  # fmt: skip
    for command, request, offset in running:
        clock.set(SEED_NOW_MS + offset)
        ref = await jobs.enqueue(command, request, tag="nightly")
        await _until(lambda i=ref.id: _progressed(jobs, i), f"job {ref.id} to report progress")
    clock.set(SEED_NOW_MS - 12_000)
    retry = await jobs.enqueue("send_report", {"customer": "initech"}, retry_limit=2)  # 19
    await _until(lambda: _attempted(jobs, retry.id), "job 19 to fail once")
    clock.set(SEED_NOW_MS - 1_000)
    await _until(lambda: _heartbeat_at(jobs, SEED_NOW_MS - 1_000), "a heartbeat")
    os._exit(0)  # no drain, no stop: the store shows this engine live and at work


async def _progressed(jobs: BackgroundJobs, job_id: int) -> bool:
    job = (await jobs.get_job(job_id)).job
    return job is not None and job.progress is not None


async def _attempted(jobs: BackgroundJobs, job_id: int) -> bool:
    job = (await jobs.get_job(job_id)).job
    return job is not None and job.attempts == 1 and job.error is not None


async def _heartbeat_at(jobs: BackgroundJobs, when: int) -> bool:
    return any(e.heartbeat_at == when for e in await jobs.engines())


if __name__ == "__main__":
    asyncio.run(engine_at_work(sys.argv[1]))
