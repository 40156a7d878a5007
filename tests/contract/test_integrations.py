"""ReplyTo webhooks through the engine, and transient commands (`run_command`)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator

import pytest

from jobs_core import JobContext, JobFailedError, JobState, ManualClock, UnknownCommandError
from tests.conftest import MakeJobs, wait_until
from tests.core.test_reply_to import RecordingServer


class ScriptedServer(RecordingServer):
    """Answers with each status of `script` in turn, then keeps the last one."""

    def __init__(self, script: list[int]) -> None:
        super().__init__()
        self.script = script

    @property  # type: ignore[override]
    def status(self) -> int:
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    @status.setter
    def status(self, value: int) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer([500, 200])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


async def test_reply_to_delivery_is_retried_without_rerunning_the_job(
    make_jobs: MakeJobs, clock: ManualClock, scripted: ScriptedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("HOOK_TOKEN", "s3cr3t")
    jobs = make_jobs(clock=clock, start_engine=False)
    runs: list[int] = []

    @jobs.command
    async def check(req: dict[str, str], ctx: JobContext) -> dict[str, str]:
        runs.append(ctx.job.id)
        return {"checked": req["url"]}

    target = f"PUT http.X-Api-Key:$HOOK_TOKEN@http://{scripted.hostport}/hook?ref=42"
    async with jobs:
        ref = await jobs.enqueue("check", {"url": "u"}, reply_to=target)
        await jobs.run_until_idle()
        result = await jobs.get_job(ref.id)
        delivery = await jobs.get_job(ref.id + 1)
    assert runs == [ref.id]  # the failing endpoint never re-ran the job
    assert [r.method for r in scripted.received] == ["PUT", "PUT"]
    last = scripted.received[-1]
    assert (last.path, last.query) == ("/hook", "ref=42")
    assert last.headers["x-api-key"] == "s3cr3t"
    assert (last.headers["x-job-id"], last.headers["x-job-state"]) == (str(ref.id), "completed")
    assert json.loads(last.body) == {"checked": "u"}
    assert delivery.summary.command == "jobs.reply_to" and delivery.summary.attempts == 2
    assert delivery.summary.parent_id == ref.id and delivery.state is JobState.COMPLETED
    assert result.state is JobState.COMPLETED and result.completed is not None
    assert result.completed.notified_date is not None
    assert result.completed.notify_error is None
    assert "[reply_to] result delivered" in result.completed.logs
    # the secret is never shown: the admin API masks it (here a $NAME, shown as written)
    assert result.completed.reply_to == target


async def test_reply_to_literal_secrets_are_masked_in_the_admin_api(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def noop() -> None:
        return None

    ref = await jobs.enqueue("noop", reply_to="user:hunter2@https://example.com/cb?token=abc")
    job = (await jobs.get_job(ref.id)).job
    page = await jobs.list_queue()
    assert job is not None and job.reply_to == "user:***@https://example.com/cb?token=***"
    assert page.items[0].reply_to == job.reply_to
    assert "hunter2" not in repr(await jobs.get_job(ref.id))


async def test_run_command_returns_the_result_without_storing_anything(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs()

    @jobs.command(worker="smtp")
    async def send(req: dict[str, str], ctx: JobContext) -> str:
        ctx.progress(1.0, "sent")
        return f"sent to {req['to']}"

    @jobs.command
    def explode(req: dict[str, str]) -> None:
        raise KeyError(req["what"])

    async with jobs:
        handle = jobs.run_command("send", {"to": "ann"})
        assert await handle == "sent to ann"
        assert handle.state is JobState.COMPLETED and handle.status == "sent"
        assert handle.job.id < 0 and handle.job.worker == "smtp"
        with pytest.raises(JobFailedError, match="command 'explode' failed: KeyError") as failed:
            await jobs.run_command("explode", {"what": "boom"})
        assert isinstance(failed.value.__cause__, KeyError)
        assert (failed.value.code, failed.value.message) == ("KeyError", "'boom'")
        with pytest.raises(UnknownCommandError):
            jobs.run_command("nope")
        counts = await jobs.counts()
    assert sum(counts.values()) == 0


async def test_run_command_shares_the_named_worker_with_durable_jobs(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs()
    order: list[str] = []
    active = 0
    overlap = False
    gate = asyncio.Event()

    @jobs.command(worker="smtp")
    async def mail(req: dict[str, str]) -> None:
        nonlocal active, overlap
        active += 1
        overlap = overlap or active > 1
        if req["name"] == "durable":
            await gate.wait()
        order.append(req["name"])
        active -= 1

    async with jobs:
        await jobs.enqueue("mail", {"name": "durable"})
        await wait_until(lambda: bool(jobs.engine.running), what="durable job running")
        transient = jobs.run_command("mail", {"name": "transient"})
        gate.set()  # the transient job can only start once the durable one released smtp
        await transient
    assert order == ["durable", "transient"] and not overlap


async def test_reply_that_cannot_be_delivered_is_recorded_on_the_job(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def check() -> str:
        return "fine"

    async with jobs:
        ref = await jobs.enqueue("check", reply_to=f"http://127.0.0.1:{port}/hook", retry_limit=0)
        for _ in range(5):  # the reply job and its retries (each backoff passed at once)
            await jobs.run_until_idle()
            clock.advance(seconds=600)
        result = await jobs.get_job(ref.id)
    job = result.job
    assert result.state is JobState.COMPLETED and job is not None
    assert job.notified_date is None
    assert job.notify_error is not None and job.notify_error.startswith("not delivered (failed)")
    assert f"127.0.0.1:{port}/hook failed: ConnectError" in job.notify_error
