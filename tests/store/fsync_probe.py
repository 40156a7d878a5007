"""Run under strace by test_full_durability.py: one store operation, 20 times, at FULL.

Usage: python fsync_probe.py STORE_DIR (seed|open|enqueue|columns|claim|finish|heartbeat)
`seed` enqueues 40 jobs, claims 20 and registers the engine `probe`: the state the other
modes need, written by a run of its own (each run opens the store afresh)."""

from __future__ import annotations

import asyncio
import sys

from jobs_core.records import JobState
from jobs_core.settings import Durability, Settings
from jobs_core.store.protocol import EngineRegistration, JobColumns, NewJob, Transition
from jobs_core.store.sqlite.store import SqliteStore

N = 20
NOW = 1_764_000_000_000
OWNER = "probe"


def new_job() -> NewJob:
    return NewJob(
        command="noop", request_type="dict", request_body="{}", worker="", run_after=NOW,
        retry_limit=2, timeout_secs=600.0,
    )  # fmt: skip


async def main(directory: str, mode: str) -> None:
    store = SqliteStore(directory, Settings(durability=Durability.FULL))
    if mode == "seed":
        await store.enqueue([new_job() for _ in range(2 * N)], NOW)
        await store.claim(owner=OWNER, commands=["noop"], named=False, limit=N, now=NOW)
        registration = EngineRegistration(
            id=OWNER, host="probe", pid=1, workers=[], commands=["noop"], concurrency=1
        )
        await store.register_engine(registration, NOW, 1000)
    for i in range(N):
        if mode == "enqueue":
            await store.enqueue([new_job()], NOW)
        elif mode == "columns":
            await store.enqueue_columns(JobColumns(job=new_job(), request_types=("dict",) * 3,
                                                   request_bodies=["{}"] * 3), NOW)  # fmt: skip
        elif mode == "claim":
            await store.claim(owner=OWNER, commands=["noop"], named=False, limit=1, now=NOW)
        elif mode == "heartbeat":
            await store.heartbeat(OWNER, NOW + i, 1000, 0, 0, 0)
    if mode == "finish":
        for job_id in range(1, N + 1):
            done = Transition(job_id=job_id, state=JobState.COMPLETED, owner_guard=OWNER)
            applied = (await store.finish([done], [], NOW)).applied
            assert applied == [job_id], applied
    await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
