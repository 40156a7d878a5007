"""Log records emitted inside handlers carry the job's id, command and attempt."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from jobs_core import JobContext
from jobs_core.log_context import (
    JobLogFilter,
    JsonFormatter,
    install_log_context,
    uninstall_log_context,
)
from tests.conftest import MakeJobs


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collected() -> Iterator[Collect]:
    handler = Collect()
    handler.addFilter(JobLogFilter())
    logger = logging.getLogger("shop")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)


async def test_filter_adds_job_fields_in_async_and_sync_handlers(
    make_jobs: MakeJobs, collected: Collect
) -> None:
    jobs = make_jobs(start_engine=False)
    log = logging.getLogger("shop")

    @jobs.command
    async def charge(req: int, ctx: JobContext) -> None:
        log.info("charging %s", req)

    @jobs.command
    def ship(req: int) -> None:
        log.info("shipping %s", req)

    async with jobs:
        first = await charge.enqueue(1)
        second = await ship.enqueue(2)
        await jobs.run_until_idle()
    log.info("outside")
    fields = [
        (r.getMessage(), vars(r)["job_id"], vars(r)["job_command"], vars(r)["job_attempt"])
        for r in collected.records
    ]
    assert sorted(fields[:2]) == [
        ("charging 1", first.id, "charge", 1),
        ("shipping 2", second.id, "ship", 1),
    ]
    assert fields[2] == ("outside", None, None, None)


async def test_record_factory_and_json_formatter(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(start_engine=False)
    lines: list[str] = []
    set_by_factory: list[object] = []
    formatter = JsonFormatter()

    @jobs.command
    async def report(req: str) -> None:
        shop = logging.getLogger("shop")
        record = shop.makeRecord("shop", logging.WARNING, "f", 1, req, (), None)
        set_by_factory.append(vars(record).get("job_id"))
        lines.append(formatter.format(record))

    install_log_context()
    try:
        async with jobs:
            ref = await report.enqueue("low stock")
            await jobs.run_until_idle()
    finally:
        uninstall_log_context()
    assert set_by_factory == [ref.id]
    entry = json.loads(lines[0])
    assert entry["message"] == "low stock" and entry["level"] == "WARNING"
    assert (entry["job_id"], entry["job_command"], entry["job_attempt"]) == (ref.id, "report", 1)
