"""The jobs of a synchronous web app (the Django and Flask examples share it).

The web processes only enqueue, through `jobs.sync`; a separate process runs the engine:

    jobs worker --app examples.jobs_app:jobs jobs_data
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from jobs_core import BackgroundJobs, JobContext

jobs = BackgroundJobs(os.environ.get("JOBS_DIR", "jobs_data"))


@dataclass
class Invoice:
    order_id: int
    email: str


@jobs.command(worker="mail", retry_limit=3)
def send_invoice(req: Invoice, ctx: JobContext) -> str:
    ctx.log.info("sending invoice for order %s", req.order_id)
    return f"invoice {req.order_id} sent to {req.email}"
