"""Flask: enqueue from a route through the sync API; the worker is a separate process.

Run: JOBS_DIR=jobs_data flask --app examples.flask_app run
and: jobs worker --app examples.jobs_app:jobs jobs_data
"""

from __future__ import annotations

from flask import Flask, request

from jobs_core import JobNotFoundError

from .jobs_app import Invoice, jobs, send_invoice

app = Flask(__name__)


@app.post("/orders/<int:order_id>/invoice")
def invoice(order_id: int) -> tuple[dict[str, int], int]:
    job = jobs.sync.enqueue(send_invoice, Invoice(order_id, request.form["email"]))
    return {"job_id": job.id}, 202


@app.get("/jobs/<int:job_id>")
def job_state(job_id: int) -> tuple[dict[str, str], int]:
    try:
        return {"state": jobs.sync.get_job(job_id).state.value}, 200
    except JobNotFoundError as error:
        return {"error": str(error)}, 404
