"""Safety across processes: SIGKILL recovery, engines sharing work, cancel from outside."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs_core import BackgroundJobs, BatchState, EnqueueRequest, JobContext, JobState
from tests.conftest import FAST, create_store, wait_until
from tests.ledger import read_lines

ROOT = Path(__file__).resolve().parents[3]


class Workers:
    """Worker subprocesses on one store; all are killed at teardown."""

    def __init__(self, directory: str, ledger: Path) -> None:
        self.directory = directory
        self.ledger = ledger
        self.procs: list[subprocess.Popen[str]] = []

    def start(self) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.contract.e2e.worker_app", self.directory,
             str(self.ledger)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the worker prints "ready" once its engine runs
        assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
        self.procs.append(proc)
        return proc

    def events(self) -> list[tuple[str, int, int, int]]:
        rows = [line.split() for line in read_lines(self.ledger)]
        return [(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows]

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(store_dir: str, tmp_path: Path) -> Iterator[Workers]:
    create_store(store_dir)  # before the processes race to
    pool = Workers(store_dir, tmp_path / "ledger.txt")
    yield pool
    for proc in pool.procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def producer(store_dir: str) -> BackgroundJobs:
    """A facade that only enqueues and reads, registering the worker's command names."""
    jobs = BackgroundJobs(store_dir, settings=FAST)

    async def placeholder(ctx: JobContext) -> None:
        raise AssertionError("the test process never runs jobs")

    names = ("record", "record_slowly", "hang_first_attempt", "progress_until_cancelled",
             "batch_done")  # fmt: skip
    for name in names:
        jobs.command(name)(placeholder)
    return jobs


async def test_sigkilled_worker_job_is_recovered_at_next_start_and_completed_once(
    workers: Workers, store_dir: str
) -> None:
    jobs = producer(store_dir)
    victim = workers.start()
    ref = await jobs.enqueue("hang_first_attempt", retry_limit=2)
    await wait_until(lambda: ("start", ref.id, 1, victim.pid) in workers.events(), what="start")
    victim.kill()  # SIGKILL: no chance to clean up
    victim.wait()
    assert (await jobs.get_job(ref.id)).state is JobState.STARTED
    workers.start()
    await wait_until(lambda: _state(jobs, ref.id, JobState.COMPLETED), what="recovered job")
    result = await jobs.get_job(ref.id)
    events = workers.events()
    await jobs.close()
    workers.stop_all()
    assert [e[0] for e in events if e[1] == ref.id] == ["start", "start", "done"]
    assert result.summary.attempts == 2  # the lost attempt counts
    assert result.completed is not None and result.completed.response_body == '"survived"'
    assert "[recovery] attempt 1 was lost" in result.completed.logs


async def test_sigkilled_worker_job_is_recovered_by_a_live_engine(
    workers: Workers, store_dir: str
) -> None:
    jobs = producer(store_dir)
    victim = workers.start()
    ref = await jobs.enqueue("hang_first_attempt")
    await wait_until(lambda: ("start", ref.id, 1, victim.pid) in workers.events(), what="start")
    survivor = workers.start()
    victim.kill()
    victim.wait()
    await wait_until(
        lambda: ("done", ref.id, 2, survivor.pid) in workers.events(),
        what="the survivor completing the victim's job",
    )
    await wait_until(lambda: _state(jobs, ref.id, JobState.COMPLETED), what="completed state")
    events = [e for e in workers.events() if e[1] == ref.id]
    await jobs.close()
    assert [(e[0], e[2]) for e in events] == [("start", 1), ("start", 2), ("done", 2)]


async def test_three_engines_share_2000_jobs_each_run_exactly_once(
    workers: Workers, store_dir: str
) -> None:
    jobs = producer(store_dir)
    procs = [workers.start() for _ in range(3)]
    refs: list[int] = []
    for _ in range(20):
        batch = await jobs.enqueue_many([EnqueueRequest(command="record") for _ in range(100)])
        refs.extend(r.id for r in batch)

    async def all_done() -> bool:
        return (await jobs.counts())[JobState.COMPLETED] == 2000

    await wait_until(all_done, timeout=60, what="2000 jobs completed")
    workers.stop_all()
    runs = Counter(e[1] for e in workers.events() if e[0] == "run")
    by_process = Counter(e[3] for e in workers.events())
    await jobs.close()
    assert set(runs) == set(refs) and len(refs) == 2000
    assert max(runs.values()) == 1, [i for i, n in runs.items() if n > 1][:10]
    assert set(by_process) <= {p.pid for p in procs}
    for proc in procs:
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else proc.returncode


async def test_cancel_from_another_process_stops_the_running_job(
    workers: Workers, store_dir: str
) -> None:
    jobs = producer(store_dir)
    workers.start()
    ref = await jobs.enqueue("progress_until_cancelled")

    async def progressing() -> bool:
        job = (await jobs.get_job(ref.id)).job
        return job is not None and (job.progress or 0) > 0

    await wait_until(progressing, what="progress reported across processes")
    assert await jobs.cancel(ref.id) is JobState.STARTED
    await wait_until(
        lambda: _state(jobs, ref.id, JobState.CANCELLED), timeout=1.5, what="cancel within 1 s"
    )
    await jobs.close()


async def _state(jobs: BackgroundJobs, job_id: int, state: JobState) -> bool:
    return (await jobs.get_job(job_id)).state is state


async def test_batch_finished_by_two_engines_runs_on_complete_once(
    workers: Workers, store_dir: str
) -> None:
    jobs = producer(store_dir)
    procs = [workers.start() for _ in range(2)]
    batch = await jobs.create_batch("fan-out", on_complete="batch_done", total=600)
    for _ in range(6):
        await jobs.enqueue_many(
            [EnqueueRequest(command="record_slowly", batch_id=batch.id) for _ in range(100)]
        )

    async def finished() -> bool:
        return (await batch.status()).state is BatchState.FINISHED

    await wait_until(finished, timeout=60, what="the batch finished")
    (callback,) = (await batch.status()).callback_ids
    # Waiting on a job run by another process: the callback's result is its count.
    assert await jobs.wait(callback, timeout=30) == 600
    workers.stop_all()
    done = [e for e in workers.events() if e[0] == "batch_done"]
    ran_on = {e[3] for e in workers.events() if e[0] == "run"}
    await jobs.close()
    assert len(done) == 1 and done[0][1] == callback
    assert ran_on == {p.pid for p in procs}  # both engines finished jobs of the batch
