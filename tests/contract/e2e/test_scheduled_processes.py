"""Scheduled tasks across real processes: each slot enqueued once, run now from outside."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs_core import BackgroundJobs
from tests.conftest import FAST, create_store, wait_until
from tests.contract.e2e.scheduled_app import INTERVAL_SECS
from tests.ledger import read_lines

ROOT = Path(__file__).resolve().parents[3]
Run = tuple[int, int, bool, int]
"""(job id, scheduled_for, run_now, pid) of one run."""


def runs(ledger: Path) -> list[Run]:
    rows = [line.split() for line in read_lines(ledger)]
    return [(int(r[0]), int(r[1]), r[2] == "true", int(r[3])) for r in rows]


@pytest.fixture
def engines(store_dir: str, tmp_path: Path) -> Iterator[tuple[Path, list[subprocess.Popen[str]]]]:
    """Two engine processes on one store, both registering the same 0.2 s task."""
    create_store(store_dir)  # before the processes race to
    ledger = tmp_path / "ledger.txt"
    procs: list[subprocess.Popen[str]] = []
    try:
        for _ in range(2):
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.contract.e2e.scheduled_app", store_dir, str(ledger)],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            procs.append(proc)
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
        yield ledger, procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


async def test_two_engine_processes_run_each_slot_once_and_run_now_from_outside(
    store_dir: str, engines: tuple[Path, list[subprocess.Popen[str]]]
) -> None:
    ledger, _ = engines
    await wait_until(lambda: len(runs(ledger)) >= 8, timeout=60, what="eight scheduled runs")
    admin = BackgroundJobs(store_dir, settings=FAST, start_engine=False)
    try:
        asked = time.monotonic()
        await admin.run_task_now("tick")
        await wait_until(lambda: any(r[2] for r in runs(ledger)), timeout=5, what="the run-now job")
        waited = time.monotonic() - asked
        info = await admin.scheduled_task("tick")
    finally:
        await admin.close()
    scheduled = [r for r in runs(ledger) if not r[2]]
    slots = [slot for _, slot, _, _ in scheduled]
    assert len(slots) == len(set(slots)), f"a slot ran twice: {runs(ledger)}"
    assert len({job_id for job_id, *_ in runs(ledger)}) == len(runs(ledger))
    gaps = [b - a for a, b in zip(sorted(slots), sorted(slots)[1:], strict=False)]
    assert min(gaps) >= INTERVAL_SECS * 1000
    assert sum(r[2] for r in runs(ledger)) == 1
    assert waited < 1.5
    assert info.last_job_id is not None and not info.run_now_requested
