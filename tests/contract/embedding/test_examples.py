"""Every framework recipe in examples/ runs as documented: FastAPI, Django, Flask, a script,
with JOBS_DIR a directory or a PostgreSQL URL."""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from jobs_core import BackgroundJobs, JobState

REPO = Path(__file__).resolve().parents[3]
LoadExample = Callable[[str], ModuleType]


@pytest.fixture
def load_example(store_dir: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoadExample]:
    """Import `examples.<name>` afresh with JOBS_DIR set to a fresh store location."""
    monkeypatch.setenv("JOBS_DIR", store_dir)
    loaded: list[str] = []

    def load(name: str) -> ModuleType:
        for module in [m for m in sys.modules if m.startswith("examples.")]:
            del sys.modules[module]
        loaded.append(name)
        return importlib.import_module(f"examples.{name}")

    yield load
    for name in ("examples.jobs_app", "examples.fastapi_app"):
        module = sys.modules.pop(name, None)
        jobs = getattr(module, "jobs", None)
        if isinstance(jobs, BackgroundJobs):
            jobs.sync.close()
            asyncio.run(jobs.close())
    for module in [m for m in sys.modules if m.startswith("examples.")]:
        del sys.modules[module]


def worker(directory: str) -> subprocess.Popen[str]:
    """`jobs worker` for the sync apps' jobs, as its own process."""
    return subprocess.Popen(
        [sys.executable, "-m", "jobs_cli", "worker", "--app", "examples.jobs_app:jobs",
         directory],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "JOBS_DIR": directory},
    )  # fmt: skip


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.communicate(timeout=30)


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


async def test_fastapi_example_runs_the_engine_in_the_lifespan(load_example: LoadExample) -> None:
    import httpx

    module = load_example("fastapi_app")
    app = module.app
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),  # what uvicorn runs around the app
        httpx.AsyncClient(transport=transport, base_url="http://app") as client,
    ):
        response = await client.post("/signup", params={"email": "ada@example.com"})
        job_id = response.json()["job_id"]
        result = await client.get(f"/jobs/{job_id}/result")
        assert result.json() == {"result": "welcomed ada@example.com"}
        assert (await client.get(f"/jobs/{job_id}")).json() == {"state": "completed"}
    assert module.jobs._engine is None  # the lifespan stopped the engine


def test_django_example_enqueues_on_commit_and_a_worker_process_runs_it(
    load_example: LoadExample,
) -> None:
    import django
    from django.conf import settings
    from django.test import Client
    from django.urls import clear_url_caches

    if not settings.configured:
        settings.configure(
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:",
                                   "ATOMIC_REQUESTS": True}},
            ROOT_URLCONF="examples.django_views", ALLOWED_HOSTS=["testserver"],
            INSTALLED_APPS=[], USE_TZ=True, DEBUG_PROPAGATE_EXCEPTIONS=False,
        )  # fmt: skip
        django.setup()
    load_example("django_views")
    clear_url_caches()  # Django keeps the views of an earlier test's module otherwise
    from examples.jobs_app import jobs

    client = Client(raise_request_exception=False)
    assert client.post("/orders", {"order_id": 1, "email": "a@b.c"}).status_code == 202
    assert client.post("/orders", {"order_id": 2, "email": "a@b.c", "fail": "1"}).status_code == 500
    assert [j.ref_id for j in jobs.sync.list_queue().items] == ["invoice-1"]  # 2 rolled back
    process = worker(os.environ["JOBS_DIR"])
    try:
        wait_for(lambda: client.get("/orders/1/invoice").json() == {"state": "completed"})
    finally:
        stop(process)
    found = jobs.sync.get_job_by_ref("invoice-1")
    assert jobs.sync.wait(found.summary.id, timeout=5) == "invoice 1 sent to a@b.c"


def test_flask_example_enqueues_through_the_sync_api(load_example: LoadExample) -> None:
    module = load_example("flask_app")
    client = module.app.test_client()
    response = client.post("/orders/7/invoice", data={"email": "x@y.z"})
    assert response.status_code == 202
    job_id = response.get_json()["job_id"]
    assert client.get(f"/jobs/{job_id}").get_json() == {"state": "queued"}
    assert client.get("/jobs/999").status_code == 404
    process = worker(os.environ["JOBS_DIR"])
    try:
        wait_for(lambda: client.get(f"/jobs/{job_id}").get_json() == {"state": "completed"})
    finally:
        stop(process)
    assert module.jobs.sync.get_job(job_id).state is JobState.COMPLETED


def test_script_example_prints_its_results(store_dir: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "examples.script"], cwd=REPO, capture_output=True, text=True,
        env={**os.environ, "JOBS_DIR": store_dir}, timeout=60, check=True,
    )  # fmt: skip
    assert out.stdout.splitlines() == [
        "'one two three': 3 words",
        "'four five': 2 words",
        "'six': 1 words",
    ]
