"""The sample app of `jobs demo`: realistic commands with progress, logs, failures and chains.

Run its engine with `jobs worker --app jobs_cli.demo_app:app DIR`; `app` is `build`, which
takes the store directory at run time.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

from jobs_core import BackgroundJobs, JobContext, PermanentError, Settings

DEMO_SETTINGS = Settings(
    retry_backoff_secs=1.0,
    retry_backoff_max_secs=10.0,
    heartbeat_secs=1.0,
    drain_timeout_secs=3.0,
)
"""Short retry delays and drain so failures, retries and shutdown show within seconds."""

_rng = random.Random()


@dataclass(frozen=True, slots=True, kw_only=True)
class ResizeImage:
    path: str
    sizes: list[int] = field(default_factory=lambda: [1024, 512, 256, 128])


@dataclass(frozen=True, slots=True, kw_only=True)
class SendEmail:
    to: str
    subject: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportOrders:
    source: str
    rows: int = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class AggregateSales:
    period: str
    regions: list[str] = field(default_factory=lambda: ["emea", "amer", "apac"])


@dataclass(frozen=True, slots=True, kw_only=True)
class SalesReport:
    period: str
    format: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeCard:
    order_id: str
    amount_cents: int
    card: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Thumbnail:
    image_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RebuildIndex:
    index: str
    shards: int = 20


async def resize_image(req: ResizeImage, ctx: JobContext) -> dict[str, Any]:
    """Several steps with progress and status, as a media pipeline would."""
    done: list[str] = []
    for step, size in enumerate(req.sizes, 1):
        await asyncio.sleep(_rng.uniform(0.2, 0.6))
        done.append(f"{req.path}@{size}")
        ctx.log.info("resized %s to %dpx", req.path, size)
        ctx.progress(step / len(req.sizes), f"{size}px done")
    return {"variants": done}


async def send_email(req: SendEmail, ctx: JobContext) -> None:
    """Runs on the serial `smtp` worker; the server now and then asks to try again later."""
    ctx.log.info("connecting to smtp.example.com:587")
    await asyncio.sleep(_rng.uniform(0.2, 0.5))
    if _rng.random() < 0.15:
        raise ConnectionError("SMTP 451 4.3.0 mail server temporarily unavailable")
    ctx.log.info("sent '%s' to %s", req.subject, req.to)


async def import_orders(req: ImportOrders, ctx: JobContext) -> dict[str, int]:
    """Flaky network (retried) and, for a corrupt file, a failure no retry can fix."""
    for done in range(0, req.rows + 1, max(1, req.rows // 5)):
        ctx.progress(done / req.rows, f"{done}/{req.rows} rows")
        await asyncio.sleep(0.15)
        if "corrupt" in req.source and done >= req.rows // 2:
            raise ValueError(f"{req.source}: row {done + 1} has 4 columns, expected 6")
        if _rng.random() < 0.08:
            raise ConnectionError("connection reset by orders.example.com")
    ctx.log.info("imported %d orders from %s", req.rows, req.source)
    return {"imported": req.rows}


async def aggregate_sales(req: AggregateSales, ctx: JobContext) -> dict[str, int]:
    """The head of a dependency chain: the reports wait for its totals."""
    totals: dict[str, int] = {}
    for step, region in enumerate(req.regions, 1):
        await asyncio.sleep(_rng.uniform(0.2, 0.4))
        totals[region] = _rng.randint(10_000, 90_000)
        ctx.log.info("%s %s: %d", req.period, region, totals[region])
        ctx.progress(step / len(req.regions), f"aggregated {region}")
    return totals


async def sales_report(req: SalesReport, ctx: JobContext) -> dict[str, Any]:
    """Depends on `aggregate_sales`; reads its parent's result."""
    parent = ctx.parent
    totals: dict[str, int] = json.loads(parent.response_body or "{}") if parent else {}
    ctx.progress(0.5, f"rendering {req.format}")
    await asyncio.sleep(_rng.uniform(0.2, 0.4))
    path = f"reports/sales-{req.period}.{req.format}"
    ctx.log.info("wrote %s (total %d)", path, sum(totals.values()))
    return {"path": path, "total": sum(totals.values())}


class CardDeclined(PermanentError):
    """A declined card: no retry can change the answer, so the job fails at once."""


async def charge_card(req: ChargeCard, ctx: JobContext) -> dict[str, Any]:
    """Succeeds with a receipt that its callback sends; a declined card fails for good."""
    customer = ctx.user["name"]
    ctx.status(f"charging {req.amount_cents / 100:.2f} EUR for {customer}")
    await asyncio.sleep(_rng.uniform(0.1, 0.3))
    if req.card.endswith("0002"):
        raise CardDeclined(f"card ending {req.card[-4:]} of {customer} was declined")
    return {"order_id": req.order_id, "receipt": f"rcpt_{_rng.randrange(16**8):08x}"}


async def send_receipt(receipt: dict[str, Any], ctx: JobContext) -> None:
    """The callback of `charge_card`: runs with its result."""
    await asyncio.sleep(0.1)
    ctx.log.info("receipt %s sent for order %s", receipt["receipt"], receipt["order_id"])


def make_thumbnail(req: Thumbnail, ctx: JobContext) -> str:
    """A small plain-`def` job, enqueued in batches."""
    time.sleep(_rng.uniform(0.05, 0.3))
    return f"thumbs/{req.image_id}.webp"


def rebuild_search_index(req: RebuildIndex, ctx: JobContext) -> int:
    """A long plain-`def` job that honours cancellation between shards."""
    for shard in range(1, req.shards + 1):
        ctx.raise_if_cancelled()
        time.sleep(0.5)
        ctx.progress(shard / req.shards, f"shard {shard}/{req.shards}")
    ctx.log.info("index %s rebuilt", req.index)
    return req.shards


async def cleanup_temp_files(ctx: JobContext) -> int:
    """A scheduled task (every 30 seconds)."""
    removed = _rng.randint(0, 40)
    ctx.log.info("removed %d temp files", removed)
    return removed


async def sync_inventory(ctx: JobContext) -> None:
    """A scheduled task (every minute)."""
    for step in range(1, 4):
        await asyncio.sleep(0.3)
        ctx.progress(step / 3, f"warehouse {step}/3")


def find_customer(user_id: str) -> dict[str, str]:
    """The user resolver: what a job's `user_id` stands for (`ctx.user`)."""
    return {"id": user_id, "name": user_id.replace("user-", "customer #")}


def build(directory: str, *, start_engine: bool = True) -> BackgroundJobs:
    """The demo app on the store in `directory`."""
    jobs = BackgroundJobs(directory, settings=DEMO_SETTINGS, start_engine=start_engine)
    jobs.command(resize_image)
    jobs.command("send_email", worker="smtp", retry_limit=3)(send_email)
    jobs.command("import_orders", retry_limit=2)(import_orders)
    jobs.command(aggregate_sales)
    jobs.command(sales_report)
    jobs.command(charge_card)  # a declined card raises CardDeclined: no retries
    jobs.user_resolver(find_customer)
    jobs.command(send_receipt)
    jobs.command(make_thumbnail)
    jobs.command("rebuild_search_index", timeout=120)(rebuild_search_index)
    jobs.command(cleanup_temp_files)
    jobs.command(sync_inventory)
    return jobs


app = build
"""What `--app jobs_cli.demo_app:app` names."""
