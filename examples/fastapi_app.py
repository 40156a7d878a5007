"""FastAPI (or any Starlette app): the engine runs in the lifespan, routes enqueue with handles.

Run: JOBS_DIR=jobs_data uvicorn examples.fastapi_app:app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from jobs_core import BackgroundJobs, JobContext, JobRef

jobs = BackgroundJobs(os.environ.get("JOBS_DIR", "jobs_data"))


@dataclass
class Welcome:
    email: str


@jobs.command(retry_limit=3)
async def send_welcome(req: Welcome, ctx: JobContext) -> str:
    ctx.log.info("welcoming %s", req.email)
    return f"welcomed {req.email}"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with jobs:  # the engine runs beside the app; shutting down drains running jobs
        yield


app = FastAPI(lifespan=lifespan)


@app.post("/signup")
async def signup(email: str) -> dict[str, int]:
    job = await send_welcome.enqueue(Welcome(email), tag="signup")
    return {"job_id": job.id}


@app.get("/jobs/{job_id}")
async def job_state(job_id: int) -> dict[str, str]:
    return {"state": (await jobs.get_job(job_id)).state.value}


@app.get("/jobs/{job_id}/result")
async def job_result(job_id: int) -> dict[str, str]:
    handle = send_welcome.job_handle(JobRef(id=job_id))  # typed: wait() returns str
    return {"result": await handle.wait(timeout=10)}
