"""A module-level app whose directory comes from `JOBS_DIR`, as `--app` sets it before import."""

from __future__ import annotations

import os

from jobs_core import BackgroundJobs

app = BackgroundJobs(os.environ["JOBS_DIR"], start_engine=False)


@app.command
async def ping() -> str:
    return "pong"
