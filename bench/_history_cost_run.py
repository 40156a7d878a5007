"""One run of bench/history_cost.py: the store's hot path (claim, finish, archive) on N jobs,
with the CPU time of each phase.

Usage: python bench/_history_cost_run.py [engine] LOCATION N RETRY_EVERY [POSTMASTER_PID]
(with PYTHONPATH naming the source tree to measure). LOCATION is a SQLite directory or a
postgresql:// URL; RETRY_EVERY > 0 makes every job whose id is a multiple of it fail its first
attempt (a retry, queued again at once), 0 none. With POSTMASTER_PID (PostgreSQL) each phase
also counts the CPU time of the server's processes (read from /proc), since most of a
PostgreSQL store's work is the server's.

`engine`: a real engine drains the jobs in this process instead (every job's whole path:
claim, task, handler, outcome, archive), retries due at once; CPU µs a job of the process
("engine") and of the server ("engine server").

Enqueueing is not measured. Then claims of 100 at a time, each finished (completed, or a
retry), until nothing is left, then the archive pass until it moves nothing. Prints one JSON
line: CPU µs per job of each phase, this process's ("claim", ...) and the server's
("claim server", ...; 0 on SQLite).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

from jobs_core import BackgroundJobs, EnqueueRequest
from jobs_core.records import AttemptOutcome, JobError, JobState
from jobs_core.settings import Settings
from jobs_core.store.opening import open_store
from jobs_core.store.protocol import NewJob, Store, Transition

NOW = 1_764_000_000_000
OWNER = "host-1234567:12345:abcdef12"
PHASES = ("claim", "finish", "archive")
TICK_SECS = 1 / os.sysconf("SC_CLK_TCK")


def server_cpu(postmaster: int | None) -> float:
    """CPU seconds of the server: the postmaster and every process it started, running or
    ended (the postmaster reaps its backends: theirs is in its children's times)."""
    if postmaster is None:
        return 0.0
    ticks = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid, ...; utime, stime, cutime, cstime are 12th-15th.
        if int(name) == postmaster:
            ticks += sum(int(f) for f in fields[11:15])
        elif int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks * TICK_SECS


class Meter:
    """CPU time per phase, this process's and the server's."""

    def __init__(self, postmaster: int | None) -> None:
        self.postmaster = postmaster
        self.spent = {name: 0.0 for phase in PHASES for name in (phase, phase + " server")}

    async def run(self, phase: str, work: object) -> object:
        server0, t0 = server_cpu(self.postmaster), time.process_time()
        result = await work  # type: ignore[misc]
        t1 = time.process_time()
        self.spent[phase] += t1 - t0
        self.spent[phase + " server"] += server_cpu(self.postmaster) - server0
        return result


def transition(job_id: int, attempts: int, retry_every: int) -> Transition:
    if retry_every and job_id % retry_every == 0 and attempts == 1:
        return Transition(
            job_id=job_id, state=JobState.QUEUED, owner_guard=OWNER, run_after=NOW,
            duration_ms=1, error=JobError(code="ValueError", message="failed once"),
            outcome=AttemptOutcome.FAILED,
        )  # fmt: skip
    return Transition(
        job_id=job_id, state=JobState.COMPLETED, owner_guard=OWNER, duration_ms=1,
        response_type="NoneType", response_body="null", progress=1.0,
        outcome=AttemptOutcome.COMPLETED,
    )  # fmt: skip


async def enqueue(store: Store, n: int) -> None:
    for first in range(0, n, 1000):
        await store.enqueue(
            [
                NewJob(command="noop", request_type="dict", request_body=f'{{"i": {i}}}',
                       worker="", run_after=NOW, retry_limit=2, timeout_secs=600.0)
                for i in range(first, min(n, first + 1000))
            ],
            NOW,
        )  # fmt: skip


async def main(location: str, n: int, retry_every: int, postmaster: int | None) -> None:
    store = open_store(location, Settings())
    await store.open()
    await enqueue(store, n)
    meter = Meter(postmaster)
    while True:
        jobs = await meter.run(
            "claim", store.claim(owner=OWNER, commands=["noop"], named=False, limit=100, now=NOW)
        )
        if not jobs:
            break
        done = [transition(j.id, j.attempts, retry_every) for j in jobs]  # type: ignore[attr-defined]
        await meter.run("finish", store.finish(done, [], NOW))
    while await meter.run("archive", store.archive_finished(NOW, 2000)):
        pass
    await store.close()
    print(json.dumps({k: v / n * 1e6 for k, v in meter.spent.items()}))


async def engine_main(location: str, n: int, retry_every: int, postmaster: int | None) -> None:
    """A real engine in this process drains the N jobs (retries at once); CPU µs a job of
    the whole process (the engine, its store, the loop) and of the server."""
    jobs = BackgroundJobs(location, settings=Settings(retry_backoff_secs=0.0, retry_jitter=0.0))
    failed: set[int] = set()

    @jobs.command
    async def noop(req: dict[str, Any]) -> None:
        i = req["i"]
        if retry_every and i % retry_every == 0 and i not in failed:
            failed.add(i)
            raise ValueError("failed once")

    for first in range(0, n, 1000):
        await jobs.enqueue_many(
            [
                EnqueueRequest(command="noop", request={"i": i})
                for i in range(first, min(n, first + 1000))
            ]
        )
    expected = n + (len(range(0, n, retry_every)) if retry_every else 0)
    await jobs.open()
    server0, cpu0 = server_cpu(postmaster), time.process_time()
    async with jobs:
        engine = jobs.engine
        while engine.processed < expected:
            await asyncio.sleep(0.002)
        while await jobs.store.archive_finished(jobs.clock.now_ms(), 10_000):
            pass
        cpu, server = time.process_time() - cpu0, server_cpu(postmaster) - server0
        if (await jobs.counts())[JobState.COMPLETED] != n:
            raise SystemExit(f"expected {n} jobs completed")
    print(json.dumps({"engine": cpu / n * 1e6, "engine server": server / n * 1e6}))


if __name__ == "__main__":
    args = sys.argv[1:]
    mode = engine_main if args[0] == "engine" else main
    args = args[1:] if args[0] == "engine" else args
    postmaster = int(args[3]) if len(args) > 3 else None
    asyncio.run(mode(args[0], int(args[1]), int(args[2]), postmaster))
