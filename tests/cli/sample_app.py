"""A small app for the CLI tests: quick, slow, cancellable and failing commands."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from jobs_core import BackgroundJobs, JobContext, Settings

SETTINGS = Settings(
    retry_backoff_secs=0.0, heartbeat_secs=0.2, lease_secs=2.0, drain_timeout_secs=10.0
)
"""Quick heartbeats and no retry delay, so the tests wait as little as possible."""


@dataclass
class SendEmail:
    to: str
    subject: str


async def send_email(req: SendEmail, ctx: JobContext) -> str:
    """One at a time on `smtp`, with its own retry limit and timeout."""
    return f"sent to {req.to}"


async def greet(req: dict[str, Any], ctx: JobContext) -> str:
    ctx.log.info("greeting %s", req.get("name"))
    return f"hello {req.get('name')}"


async def slow(req: dict[str, Any], ctx: JobContext) -> str:
    """Runs for `req["seconds"]`; a drain must let it finish."""
    ctx.progress(0.0, "started")
    await asyncio.sleep(float(req["seconds"]))
    ctx.progress(1.0, "finished")
    return "done"


async def block(ctx: JobContext) -> None:
    """Runs until cancelled."""
    ctx.progress(0.0, "blocking")
    await asyncio.Event().wait()


async def explode(ctx: JobContext) -> None:
    raise RuntimeError("boom")


def app(directory: str) -> BackgroundJobs:
    """What `--app tests.cli.sample_app:app` names: the app on `directory`."""
    jobs = BackgroundJobs(directory, settings=SETTINGS)
    jobs.command(greet)
    jobs.command(slow)
    jobs.command(block)
    jobs.command("explode", retry_limit=0)(explode)
    jobs.command("mail", worker="smtp")(greet)
    jobs.command("send_email", worker="smtp", retry_limit=4, timeout=120)(send_email)
    return jobs


not_an_app = 42
"""For the test of an `--app` that names neither an app nor a factory."""
