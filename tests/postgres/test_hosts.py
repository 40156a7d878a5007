"""Several hosts on one server: three engine processes over TCP, a producer in a fourth.

Each engine has its own host name ($JOBS_HOSTNAME), so a SIGKILLed one can only be found
dead by its lease, as an engine on another machine would be.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from jobs_core import BackgroundJobs, EnqueueRequest, JobContext, JobState
from tests.conftest import FAST, create_store, wait_until
from tests.contract.e2e.worker_app import SETTINGS
from tests.ledger import read_lines

ROOT = Path(__file__).resolve().parents[2]


def start_host(url: str, ledger: Path, host: str) -> subprocess.Popen[str]:
    env = dict(os.environ, JOBS_HOSTNAME=host)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.postgres.host_app", url, str(ledger)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
    return proc


def ledger_events(ledger: Path) -> list[tuple[str, str, int, int]]:
    rows = [line.split() for line in read_lines(ledger)]
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in rows]


def producer(url: str) -> BackgroundJobs:
    jobs = BackgroundJobs(url, settings=FAST)

    async def placeholder(ctx: JobContext) -> None:
        raise AssertionError("the producer never runs jobs")

    for name in ("record", "hang_first_attempt"):
        jobs.command(name)(placeholder)
    return jobs


async def test_three_hosts_share_work_recover_a_killed_host_and_run_each_slot_once(
    store_url: str, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.txt"
    create_store(store_url)
    hosts = [start_host(store_url, ledger, f"host-{name}") for name in "abc"]
    jobs = producer(store_url)
    try:
        refs: list[int] = []
        for _ in range(30):
            batch = await jobs.enqueue_many([EnqueueRequest(command="record") for _ in range(100)])
            refs.extend(r.id for r in batch)

        async def all_done() -> bool:  # the scheduled slots complete too: count only these
            return await jobs.count_jobs("command:record state:completed") >= 3000

        await wait_until(all_done, timeout=90, what="3000 jobs completed")
        runs = Counter(int(e[1]) for e in ledger_events(ledger) if e[0] == "run")
        assert set(runs) == set(refs) and max(runs.values()) == 1
        pids = {e[3] for e in ledger_events(ledger) if e[0] == "run"}
        assert len(pids) >= 2, "the work was not shared between hosts"

        ref = await jobs.enqueue("hang_first_attempt")
        await wait_until(
            lambda: any(e[:3] == ("start", str(ref.id), 1) for e in ledger_events(ledger)),
            what="the first attempt to start",
        )
        victim_pid = next(e[3] for e in ledger_events(ledger) if e[:2] == ("start", str(ref.id)))
        victim = next(p for p in hosts if p.pid == victim_pid)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed_at = jobs.clock.now_ms()

        async def recovered() -> bool:
            return (await jobs.get_job(ref.id)).state is JobState.COMPLETED

        # The lease is SETTINGS.lease_secs; recovery runs on the survivors' heartbeats.
        await wait_until(recovered, timeout=SETTINGS.lease_secs + 60, what="recovery by lease")
        result = await jobs.get_job(ref.id)
        assert result.summary.attempts == 2
        assert result.summary.started_date is not None
        assert result.summary.started_date >= killed_at + SETTINGS.lease_secs * 1000 * 0.5
        done = [e for e in ledger_events(ledger) if e[:2] == ("done", str(ref.id))]
        assert len(done) == 1 and done[0][3] != victim_pid

        slots_before = len([e for e in ledger_events(ledger) if e[0] == "slot"])
        await wait_until(
            lambda: len([e for e in ledger_events(ledger) if e[0] == "slot"]) >= slots_before + 4,
            timeout=60, what="more slots run by the surviving hosts",
        )  # fmt: skip
        # Each slot was enqueued once: one job per slot. A job may run twice only if the
        # killed host was running it (at least once, as for any job of a dead engine).
        slot_runs = [e for e in ledger_events(ledger) if e[0] == "slot"]
        jobs_of_slot: dict[str, set[int]] = {}
        for _, slot, job_id, _ in slot_runs:
            jobs_of_slot.setdefault(slot, set()).add(job_id)
        assert all(len(ids) == 1 for ids in jobs_of_slot.values()), jobs_of_slot
        first_pid: dict[int, int] = {}
        for _, _, job_id, pid in slot_runs:
            if job_id in first_pid:
                assert first_pid[job_id] == victim_pid, f"job {job_id} ran twice"
            first_pid.setdefault(job_id, pid)
    finally:
        await jobs.close()
        for proc in hosts:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in hosts:
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
