"""`jobs metrics`: the store's figures in Prometheus text format, printed and served."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx

from jobs_core import BackgroundJobs
from tests.cli.conftest import REPO, Cli


def seed(directory: str) -> None:
    async def run() -> None:
        jobs = BackgroundJobs(directory, start_engine=False)

        @jobs.command
        async def check(req: int) -> None:
            if req < 0:
                raise ValueError("negative")

        async with jobs:
            await check.enqueue_many([1, 2, -1], retry_limit=0)
            await check.enqueue(3)
            await jobs.run_until_idle()
            await check.enqueue(4)

    asyncio.run(run())


def samples(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_metrics_prints_prometheus_text(cli: Cli, store: str) -> None:
    seed(store)
    out = cli("metrics", store, "--prometheus")
    assert out.returncode == 0, out.stderr
    found = samples(out.stdout)
    assert found["jobs_enqueued_total"] == 5
    assert found['jobs_jobs{state="completed"}'] == 3
    assert found['jobs_jobs{state="failed"}'] == 1
    assert found['jobs_jobs{state="queued"}'] == 1
    assert found['jobs_finished_last_15m{outcome="failed"}'] == 1
    assert "# TYPE jobs_enqueued_total counter" in out.stdout


def test_metrics_serve_answers_scrapes_on_localhost(store: str) -> None:
    seed(store)
    process = subprocess.Popen(
        [sys.executable, "-m", "jobs_cli", "metrics", store, "--serve", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
        response = httpx.get(url, timeout=10)
        assert response.status_code == 200
        assert samples(response.text)["jobs_enqueued_total"] == 5
        assert httpx.get(url.replace("/metrics", "/other"), timeout=10).status_code == 404
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_metrics_on_a_missing_store_is_one_error_line(cli: Cli, tmp_path: object) -> None:
    out = cli("metrics", f"{tmp_path}/nowhere")
    assert out.returncode == 1
    assert out.stderr.startswith("jobs: error: ") and out.stderr.count("\n") == 1
