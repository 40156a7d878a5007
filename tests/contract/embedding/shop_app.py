"""A small app with a module-level facade, as apps write them; used by the helper tests."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass

from jobs_core import BackgroundJobs, JobContext

# A real app would use its own directory; the tests always isolate it (jobs_isolated). A
# directory of its own per process: a shared one may hold a store of another jobs version.
_UNUSED = tempfile.mkdtemp(prefix="jobs-shop-app-")
atexit.register(shutil.rmtree, _UNUSED, ignore_errors=True)
jobs = BackgroundJobs(_UNUSED)


@dataclass
class Order:
    id: int
    email: str
    total: float


@dataclass
class Email:
    to: str
    subject: str


@jobs.command(worker="smtp")
async def send_email(req: Email, ctx: JobContext) -> str:
    if "@" not in req.to:
        raise ValueError(f"bad address {req.to!r}")
    return f"sent to {req.to}"


@jobs.command
async def place_order(req: Order, ctx: JobContext) -> float:
    await send_email.enqueue(Email(to=req.email, subject=f"order {req.id}"))
    return req.total


@jobs.command
async def flaky(req: int, ctx: JobContext) -> int:
    if ctx.job.attempts <= req:
        raise RuntimeError(f"attempt {ctx.job.attempts} fails")
    return ctx.job.attempts
