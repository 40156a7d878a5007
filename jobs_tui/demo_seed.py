"""A deterministic seeded store (fixed clock, fixed ids) for snapshots, screenshots and demos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jobs_core import BackgroundJobs, JobContext, ManualClock, Schedule, to_ms

SEED_START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
"""When the seeded history begins."""

SEED_NOW_MS = to_ms(SEED_START) + 10 * 60_000
"""The clock the app should show after seeding: ten minutes into the history."""


class ReportFailed(Exception):
    """The error the failing demo command raises."""


def seed_clock() -> ManualClock:
    """A clock fixed at `SEED_NOW_MS`, for the app that shows the seeded store."""
    return ManualClock(SEED_NOW_MS)


def _register(jobs: BackgroundJobs, clock: ManualClock) -> None:
    jobs.user_resolver(lambda user_id: {"id": user_id})

    @jobs.command
    async def resize_image(req: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        ctx.log.info("resizing %s", req["path"])
        ctx.progress(0.5, "half way")
        clock.advance(2)
        ctx.log.info("wrote %s", req["path"].replace(".png", "_small.png"))
        ctx.progress(1.0, "done")
        return {"path": req["path"], "width": 320, "height": 200}

    @jobs.command
    async def send_report(req: dict[str, Any], ctx: JobContext) -> None:
        ctx.log.info("building report for %s", req["customer"])
        ctx.progress(0.3, "rendering")
        clock.advance(1)
        raise ReportFailed(f"template missing for customer {req['customer']}")

    async def send_email(req: dict[str, Any], ctx: JobContext) -> dict[str, str]:
        ctx.log.info("sending to %s", req["to"])
        return {"message_id": f"<{req['to']}>"}

    jobs.command("send_email", worker="mailer")(send_email)

    @jobs.command
    async def import_csv(req: dict[str, Any], ctx: JobContext) -> int:
        ctx.progress(1.0, "imported")
        return 42


async def _enqueue_history(jobs: BackgroundJobs, clock: ManualClock) -> None:
    for n in range(1, 5):  # ids 1-4: a completed batch
        await jobs.enqueue(
            "resize_image", {"path": f"/img/photo{n}.png"}, tag="photos", batch_id="b-photos",
            created_by="alice", user_id="u1",
        )  # fmt: skip
        clock.advance(30)
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
    await jobs.run_until_idle()  # a new interval task runs at once
    await jobs.recurring("weekly-digest", Schedule.weekly(), "send_email", {"to": "team"})
    await jobs.pause_task("weekly-digest")


async def seed_store(directory: str) -> None:
    """Create a store in `directory` with completed, failed, cancelled and queued jobs."""
    clock = ManualClock(SEED_START)
    jobs = BackgroundJobs(directory, clock=clock, start_engine=False)
    _register(jobs, clock)
    await jobs.start()
    try:
        await _enqueue_history(jobs, clock)
        await _enqueue_waiting(jobs, clock)
        await _schedule_tasks(jobs, clock)
    finally:
        await jobs.stop()
