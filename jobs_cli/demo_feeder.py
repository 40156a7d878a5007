"""Work for the demo: a first burst of every kind of job, scheduled tasks, then a steady trickle."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import threading
from collections.abc import Awaitable, Callable

from jobs_core import BackgroundJobs, EnqueueRequest, JobsError

from .demo_app import (
    AggregateSales,
    ChargeCard,
    ImportOrders,
    RebuildIndex,
    ResizeImage,
    SalesReport,
    SendEmail,
    Thumbnail,
    build,
)

log = logging.getLogger("jobs.demo")

FEED_EVERY_SECS = 3.0
"""Pause between two rounds of new work."""

_rng = random.Random()
_counter = itertools.count(1)


async def chain(jobs: BackgroundJobs, period: str) -> None:
    """aggregate → two reports that wait for it and read its result."""
    head = await jobs.enqueue("aggregate_sales", AggregateSales(period=period), tag="reports")
    await jobs.enqueue_many([
        EnqueueRequest(command="sales_report", request=SalesReport(period=period, format=fmt),
                       depends_on=head.id, tag="reports")
        for fmt in ("pdf", "csv")
    ])  # fmt: skip


async def batch(jobs: BackgroundJobs, size: int) -> None:
    """A batch of small jobs enqueued in one transaction."""
    batch_id = f"thumbs-{next(_counter)}"
    await jobs.enqueue_many([
        EnqueueRequest(command="make_thumbnail", request=Thumbnail(image_id=_rng.randrange(10**6)),
                       batch_id=batch_id, tag="media")
        for _ in range(size)
    ])  # fmt: skip


async def charge(jobs: BackgroundJobs, *, declined: bool = False) -> None:
    """A payment whose receipt goes out through a callback; some cards are declined."""
    order = f"ord-{next(_counter):05d}"
    card = "4000000000000002" if declined else "4242424242424242"
    request = ChargeCard(order_id=order, amount_cents=_rng.randint(500, 25_000), card=card)
    await jobs.enqueue("charge_card", request, callback="send_receipt", ref_id=order,
                       created_by="checkout", user_id=f"user-{_rng.randint(1, 50)}")  # fmt: skip


async def emails(jobs: BackgroundJobs, count: int) -> None:
    """Emails for the serial `smtp` worker, run one at a time in order."""
    await jobs.enqueue_many([
        EnqueueRequest(command="send_email", request=SendEmail(
            to=f"customer{_rng.randint(1, 999)}@example.com", subject="Your order has shipped"),
            tag="notifications")
        for _ in range(count)
    ])  # fmt: skip


async def seed(jobs: BackgroundJobs) -> None:
    """One job of every kind, so every screen has something to show at once."""
    await chain(jobs, "2026-10")
    await batch(jobs, 10)
    await charge(jobs)
    await charge(jobs, declined=True)
    await emails(jobs, 3)
    await jobs.enqueue("import_orders", ImportOrders(source="s3://orders/2026-11-01.csv"))
    await jobs.enqueue("import_orders", ImportOrders(source="s3://orders/corrupt-export.csv"))
    await jobs.enqueue("resize_image", ResizeImage(path="uploads/team-photo.jpg"), tag="media")
    await jobs.enqueue("rebuild_search_index", RebuildIndex(index="products"), worker="indexer")
    await schedule_tasks(jobs)


async def schedule_tasks(jobs: BackgroundJobs) -> None:
    """The demo's recurring tasks, when this jobs_core has the scheduling API."""
    if not hasattr(jobs, "recurring"):
        return
    from jobs_core.schedule import Schedule

    await jobs.recurring("cleanup temp files", Schedule.interval(30), "cleanup_temp_files")
    await jobs.recurring("sync inventory", Schedule.cron("*/1 * * * *"), "sync_inventory")


async def feed_round(jobs: BackgroundJobs) -> None:
    """A random handful of new work."""
    kinds: list[Callable[[], Awaitable[None]]] = [
        lambda: chain(jobs, f"2026-11-{_rng.randint(1, 28):02d}"),
        lambda: batch(jobs, _rng.randint(3, 8)),
        lambda: charge(jobs, declined=_rng.random() < 0.2),
        lambda: emails(jobs, _rng.randint(1, 3)),
        lambda: _enqueue_one(jobs),
    ]
    for make in _rng.sample(kinds, k=_rng.randint(2, 4)):
        await make()


async def _enqueue_one(jobs: BackgroundJobs) -> None:
    if _rng.random() < 0.5:
        path = f"uploads/img-{_rng.randrange(10**4)}.jpg"
        await jobs.enqueue("resize_image", ResizeImage(path=path), tag="media")
    else:
        source = f"s3://orders/batch-{_rng.randrange(10**4)}.csv"
        await jobs.enqueue("import_orders", ImportOrders(source=source, rows=100))


async def feed(directory: str, stop: threading.Event) -> None:
    """Seed the store, then add work every few seconds until `stop` is set."""
    jobs = build(directory, start_engine=False)
    try:
        await seed(jobs)
        while not await _pause(stop, FEED_EVERY_SECS):
            try:
                await feed_round(jobs)
            except JobsError as error:
                # A busy or briefly unavailable store costs one round, not the demo.
                log.warning("feeder: %s", error)
    except Exception:
        # The foreground may be the TUI, so the traceback goes to the demo log, not the screen.
        log.exception("feeder stopped")
    finally:
        await jobs.close()


async def _pause(stop: threading.Event, seconds: float) -> bool:
    """Wait up to `seconds`; True as soon as `stop` is set."""
    return await asyncio.to_thread(stop.wait, seconds)


def start_feeder(directory: str) -> tuple[threading.Thread, threading.Event]:
    """Run `feed` in a thread with its own event loop (the foreground belongs to the TUI)."""
    stop = threading.Event()
    thread = threading.Thread(
        target=asyncio.run, args=(feed(directory, stop),), name="jobs-demo-feeder", daemon=True
    )
    thread.start()
    return thread, stop
