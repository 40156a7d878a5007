"""Flow control across processes: two `jobs worker` engines on one store, a third process
that changes queues, twenty producer processes; the rules hold store-wide."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from jobs_core import EnqueueRequest, JobState, RateLimit
from tests.chaos.harness import START_SECS, EnginePool
from tests.cli.conftest import run_cli
from tests.conftest import create_store, wait_until
from tests.ledger import read_lines

from .flow_app import build

FLOW_APP = "tests.contract.e2e.flow_app:build"
ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Event:
    kind: str
    job_id: int
    queue: str
    key: str
    wall_ms: int
    started_date: int
    pid: int


class Flow:
    """Two engine processes on the store and a producer facade in the test process."""

    def __init__(self, store: str, pool: EnginePool) -> None:
        self.store = store
        self.pool = pool
        self.jobs = build(store)  # the same commands, never run here (no engine entered)

    async def start_engines(self, n: int = 2) -> None:
        for _ in range(n):
            self.pool.start()
        await wait_until(self.pool.all_ready, timeout=START_SECS, what="engines")

    def events(self, kind: str | None = None) -> list[Event]:
        found = []
        for line in read_lines(self.pool.ledger):
            k, job_id, queue, key, wall, started, pid = line.split()
            event = Event(k, int(job_id), queue, key, int(wall), int(started), int(pid))
            if kind is None or event.kind == kind:
                found.append(event)
        return found

    def intervals(self) -> dict[int, tuple[int, int, str]]:
        """Job id → (start, end, key) from the jobs' own wall-clock stamps."""
        starts = {e.job_id: e for e in self.events("start")}
        return {e.job_id: (starts[e.job_id].wall_ms, e.wall_ms, e.key)
                for e in self.events("end")}  # fmt: skip


@pytest.fixture
async def flow(store_dir: str, tmp_path: Path) -> AsyncIterator[Flow]:
    create_store(store_dir)
    pool = EnginePool(store_dir, tmp_path, app=FLOW_APP)
    found = Flow(store_dir, pool)
    try:
        yield found
    finally:
        pool.kill_all()
        await found.jobs.close()


def most_at_once(intervals: list[tuple[int, int]]) -> int:
    """The most intervals open at one instant (an end at t closes before a start at t)."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                   key=lambda edge: (edge[0], edge[1]))  # fmt: skip
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


async def test_queue_concurrency_of_three_holds_across_two_engines(flow: Flow) -> None:
    await flow.jobs.set_queue("limited", concurrency=3)
    await flow.start_engines()
    await flow.jobs.enqueue_many([EnqueueRequest(command="hold", request=60) for _ in range(24)])
    await wait_until(lambda: len(flow.events("end")) == 24, timeout=30, what="24 jobs")
    spans = flow.intervals()
    assert most_at_once([(s, e) for s, e, _ in spans.values()]) == 3


async def test_pause_from_a_third_process_stops_new_starts_within_a_second(flow: Flow) -> None:
    # About 30 s of work: more than the `jobs queue pause` process takes to start on a loaded
    # machine (with 3 s of work, all 600 jobs had run before the pause came).
    await flow.jobs.set_queue("pausable", concurrency=4)
    await flow.start_engines()
    await flow.jobs.enqueue_many([EnqueueRequest(command="tick", request=20) for _ in range(6000)])
    await wait_until(lambda: len(flow.events("start")) >= 10, timeout=30, what="ten starts")
    paused = run_cli("queue", "pause", flow.store, "pausable")
    assert paused.returncode == 0, paused.stderr
    paused_at = time.time_ns() // 1_000_000
    time.sleep(1.5)
    late = [e for e in flow.events("start") if e.wall_ms > paused_at + 1000]
    assert late == []
    [info] = [q for q in await flow.jobs.queues() if q.name == "pausable"]
    assert info.paused and info.queued > 0 and info.running == 0
    before = len(flow.events("start"))
    await flow.jobs.resume_queue("pausable")
    await wait_until(lambda: len(flow.events("start")) > before, what="starts after resume")


async def test_rate_limit_of_ten_per_second_is_never_exceeded_in_any_second(
    flow: Flow,
) -> None:
    await flow.jobs.set_queue("api", rate_limit=RateLimit(10, per=timedelta(seconds=1)))
    await flow.start_engines()
    await flow.jobs.enqueue_many([EnqueueRequest(command="call", request=0) for _ in range(35)])
    await wait_until(lambda: len(flow.events("start")) == 35, timeout=30, what="35 starts")
    starts = sorted(e.started_date for e in flow.events("start"))
    busiest = max(sum(1 for t in starts if s <= t < s + 1000) for s in starts)
    assert busiest == 10
    assert starts[-1] - starts[0] >= 3000  # 35 starts at 10 per second take over 3 s


async def test_a_concurrency_key_never_has_two_jobs_running(flow: Flow) -> None:
    await flow.start_engines()
    await flow.jobs.enqueue_many([
        EnqueueRequest(command="keyed", request=15, concurrency_key=f"user:{n % 4}")
        for n in range(40)
    ])  # fmt: skip
    await wait_until(lambda: len(flow.events("end")) == 40, timeout=30, what="40 jobs")
    by_key: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for start, end, key in flow.intervals().values():
        by_key[key].append((start, end))
    assert sorted(by_key) == ["user:0", "user:1", "user:2", "user:3"]
    assert {key: most_at_once(spans) for key, spans in by_key.items()} == dict.fromkeys(by_key, 1)
    every = [span for spans in by_key.values() for span in spans]
    assert most_at_once(every) > 1  # the keys ran beside each other


async def test_an_expired_job_never_starts(flow: Flow) -> None:
    await flow.start_engines()
    now = flow.jobs.clock.now_ms()
    from jobs_core import from_ms

    expired = await flow.jobs.enqueue(
        "offer", 0, run_after=timedelta(seconds=1), expires_at=from_ms(now + 300)
    )
    kept = await flow.jobs.enqueue(
        "offer", 0, run_after=timedelta(seconds=1), expires_at=from_ms(now + 60_000)
    )

    async def settled() -> bool:
        return (await flow.jobs.get_job(expired.id)).state is JobState.CANCELLED

    await wait_until(settled, what="the expired job cancelled")
    await wait_until(lambda: kept.id in {e.job_id for e in flow.events("start")}, what="kept")
    assert expired.id not in {e.job_id for e in flow.events()}
    found = await flow.jobs.get_job(expired.id)
    assert (found.summary.error_code, found.summary.attempts) == ("Expired", 0)


PRODUCER = """
import asyncio, os, sys, time
from jobs_core import BackgroundJobs, EnqueueRequest
store, go = sys.argv[1], sys.argv[2]
jobs = BackgroundJobs(store, create=False, start_engine=False)
while not os.path.exists(go):
    time.sleep(0.002)
request = EnqueueRequest(command="offer", request=7, ref_id="pay-7",
                         on_conflict="return_existing")
async def main():
    try:
        [ref] = await jobs.enqueue_many([request], allow_undeclared=True)
        print(ref.id, ref.existing)
    finally:
        await jobs.close()
asyncio.run(main())
"""


async def test_twenty_producer_processes_retrying_one_request_make_one_job(
    flow: Flow, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    producers = [
        subprocess.Popen([sys.executable, "-c", PRODUCER, flow.store, str(go)], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(20)
    ]  # fmt: skip
    time.sleep(1.0)  # most have imported jobs and wait at the barrier
    go.touch()
    answers = [p.communicate(timeout=60) for p in producers]
    assert all(p.returncode == 0 for p in producers), [err for _, err in answers if err][:1]
    ids = {out.split()[0] for out, _ in answers}
    created = [out for out, _ in answers if out.split()[1] == "False"]
    assert len(ids) == 1 and len(created) == 1
    assert (await flow.jobs.counts())[JobState.QUEUED] == 1
