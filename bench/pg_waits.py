"""Where a batched PostgreSQL run waits: each process's CPU and run-queue time, the server's
wait events, and the engine's timeline of claims and outcome writes, over one run.

Usage: uv run python bench/pg_waits.py [--store pg|URL] [--jobs 20000] [--batch 500]
[--sample-ms 2] [--no-activity]

The producer (this process) enqueues `--jobs` no-op jobs with `enqueue_many` in batches of
`--batch` (enqueues wait for the WAL flush, as in `pg_peers.py`); an engine in a child
process (`_pg_engine_probe.py`, which times each of its store's calls) runs them. Meanwhile a
thread samples every `--sample-ms`:

- `/proc/PID/schedstat` of the producer, the engine and every server process (so the server
  must run on this machine): ns on a CPU, and ns runnable but waiting for one (the machine
  is short of CPU while that grows);
- `pg_stat_activity` (unless `--no-activity`): what each client backend does, and on what
  it waits (`wait_event_type: wait_event`), from a connection of its own (whose cost lands
  on the server's figures: compare with `--no-activity`).

Printed: CPU and run-queue time of each process as a share of the run's wall time (and CPU
µs a job), the machine's idle share, the backends' states, the engine's store calls (count,
jobs, time), the share of the run with a claim, an outcome write, both or neither in flight,
and the rates while the producer enqueued and after (the engine draining the backlog).
JOBS_BENCH_ATTACH="CMD {pid}" runs CMD beside the engine (e.g. `py-spy record ... -p {pid}`);
JOBS_BENCH_PROFILE=PATH has the engine write cProfile stats.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import asyncpg
from _common import final_line, print_table
from _engine_proc import build
from _stores import Stores
from throughput import stop_engine, wait_completed

from jobs_core import EnqueueRequest
from jobs_core.store.url import parse_store_url

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_pg_engine_probe.py")
ACTIVITY = """
SELECT state, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND datname = current_database()
"""
STATEMENTS = (("finish_jobs", "finish"), ("claim", "claim"), ("with recursive", "claim"),
              ("insert into background_job", "enqueue"), ("commit", "commit"),
              ("begin", "begin"), ("select id, command, state, worker", "read"))  # fmt: skip


def schedstat(pid: int) -> tuple[int, int]:
    """(ns on a CPU, ns waiting for one) of process `pid` so far; (0, 0) once it is gone."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            run, wait, _ = f.read().split()
    except OSError:
        return 0, 0
    return int(run), int(wait)


def postgres_pids() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == "postgres":
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def idle_secs() -> float:
    """CPU seconds the machine spent idle (or waiting for I/O) so far, all CPUs."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    return (int(fields[3]) + int(fields[4])) / os.sysconf("SC_CLK_TCK")


class Sampler(threading.Thread):
    """Samples CPU per process and (with a `dsn`) pg_stat_activity until `stop` is set."""

    def __init__(self, pids: list[int], dsn: str | None, every: float) -> None:
        super().__init__(daemon=True)
        self.pids, self.dsn, self.every = pids, dsn, every
        self.stop = threading.Event()
        self.activity: collections.Counter[tuple[str, str]] = collections.Counter()
        self.samples = 0
        self.first: dict[int, tuple[int, int]] = {}
        self.last: dict[int, tuple[int, int]] = {}

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        conn = await asyncpg.connect(self.dsn) if self.dsn else None
        try:
            while not self.stop.is_set():
                for pid in [*self.pids, *postgres_pids()]:
                    stat = schedstat(pid)
                    self.first.setdefault(pid, stat)
                    self.last[pid] = stat
                if conn is not None:
                    for state, kind, event, query in await conn.fetch(ACTIVITY):
                        self.activity[_activity(state, kind, event, query)] += 1
                self.samples += 1
                await asyncio.sleep(self.every)
        finally:
            if conn is not None:
                await conn.close()

    def cpu(self, pid: int) -> tuple[float, float]:
        """(seconds on a CPU, seconds waiting for one) of `pid` between the first and last
        samples."""
        a, b = self.first.get(pid, (0, 0)), self.last.get(pid, (0, 0))
        return (b[0] - a[0]) / 1e9, (b[1] - a[1]) / 1e9


def _activity(state: str, kind: str | None, event: str | None, query: str) -> tuple[str, str]:
    if state == "idle":
        return "idle", ""
    q = " ".join(query.split()).lower()
    statement = next((name for word, name in STATEMENTS if word in q), q[:20])
    return (f"on CPU ({state})" if kind is None else f"{kind}: {event}"), statement


async def start_probe(url: str, timeline: str) -> asyncio.subprocess.Process:
    env = dict(os.environ, JOBS_BENCH_TIMELINE=timeline)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, PROBE, url, "NORMAL", stdout=asyncio.subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    line = (await proc.stdout.readline()).decode().split()
    if not line or line[0] != "ready":
        raise RuntimeError(f"engine process did not start: {line!r}")
    return proc


async def produce(jobs: Any, n: int, batch: int) -> int:
    last = 0
    for first in range(0, n, batch):
        size = min(batch, n - first)
        requests = [EnqueueRequest(command="noop", request={"i": i}) for i in range(size)]
        last = (await jobs.enqueue_many(requests))[-1].id
    return last


async def run(url: str, n: int, batch: int, every: float, activity: bool) -> dict[str, Any]:
    timeline = tempfile.mktemp(prefix="jobs-timeline-")
    jobs = build(url, "NORMAL")
    await jobs.open()
    proc = await start_probe(url, timeline)
    attach = os.environ.get("JOBS_BENCH_ATTACH")
    attached = subprocess.Popen(attach.format(pid=proc.pid), shell=True) if attach else None
    try:
        warm = await jobs.enqueue("noop", {"i": -1})
        await wait_completed(jobs, 1, proc, warm.id)
        dsn = parse_store_url(url).dsn if activity else None
        sampler = Sampler([os.getpid(), proc.pid], dsn, every)
        sampler.start()
        await asyncio.sleep(0.2)  # the sampler's first sample
        idle0, t0 = idle_secs(), time.perf_counter()
        last = await produce(jobs, n, batch)
        produced = time.perf_counter()
        await wait_completed(jobs, n + 1, proc, last)
        t1, idle = time.perf_counter(), idle_secs() - idle0
        sampler.stop.set()
        await asyncio.to_thread(sampler.join)
    finally:
        await stop_engine(proc)
        await jobs.close()
        if attached is not None:
            attached.wait()
    with open(timeline) as f:
        calls = [json.loads(line) for line in f]
    os.unlink(timeline)
    span = (t0, produced, t1)
    shares = report_cpu(sampler, proc.pid, span, idle, n) | report_calls(calls, span)
    return {"jobs_per_s": n / (t1 - t0), **shares}


def report_cpu(
    sampler: Sampler, engine: int, span: tuple[float, float, float], idle: float, n: int
) -> dict[str, float]:
    t0, produced, t1 = span
    wall = t1 - t0
    cpus = os.cpu_count() or 1
    print(
        f"{n:,} jobs in {wall:.3f} s ({n / wall:,.0f} jobs/s), the enqueues done at "
        f"{produced - t0:.3f} s; the machine idle {idle / wall / cpus:.0%} of {cpus} CPUs"
    )

    def row(name: str, run_s: float, wait_s: float) -> tuple[str, ...]:
        return name, f"{run_s / wall:.0%}", f"{wait_s / wall:.0%}", f"{run_s * 1e6 / n:.1f}"

    rows = [row("producer", *sampler.cpu(os.getpid())), row("engine", *sampler.cpu(engine))]
    server = [(sampler.cpu(pid), pid) for pid in sampler.first if pid not in (os.getpid(), engine)]
    server.sort(reverse=True)
    rows += [row(f"server pid {pid}", *cpu) for cpu, pid in server[:4]]
    server_run = sum(cpu[0] for cpu, _ in server)
    rows.append(row("server, all", server_run, sum(cpu[1] for cpu, _ in server)))
    print_table(["process", "on a CPU", "runnable, not running", "CPU µs a job"], rows)
    if sampler.activity:
        total = sum(sampler.activity.values())
        print("\nclient backends (mean number in each state, share of backend samples)")
        print_table(
            ["state / wait", "statement", "backends", "share"],
            [(k[0], k[1], f"{v / sampler.samples:.2f}", f"{v / total:.0%}")
             for k, v in sampler.activity.most_common(12)],
        )  # fmt: skip
    return {"idle": idle / wall / cpus, "engine_cpu": sampler.cpu(engine)[0] / wall,
            "engine_runnable": sampler.cpu(engine)[1] / wall}  # fmt: skip


def report_calls(calls: list[list[Any]], span: tuple[float, float, float]) -> dict[str, float]:
    """The engine's calls within the run: counts and times, what was in flight, and the
    rates of claims while the producer enqueued and after."""
    t0, produced, t1 = span
    inside = [c for c in calls if c[2] >= t0 and c[1] <= t1]
    by_name: dict[str, list[list[Any]]] = collections.defaultdict(list)
    for c in inside:
        by_name[c[0]].append(c)
    rows = []
    for name, cs in sorted(by_name.items()):
        times = sorted((c[2] - c[1]) * 1e3 for c in cs)
        rows.append((name, len(cs), sum(c[4] for c in cs), f"{times[len(times) // 2]:.2f}",
                     f"{times[-1]:.2f}", f"{sum(times) / ((t1 - t0) * 1e3):.0%}"))  # fmt: skip
    print("\nthe engine's store calls during the run (jobs: claimed, or outcomes applied)")
    print_table(["call", "calls", "jobs", "p50 ms", "max ms", "share of the run"], rows)
    shares = in_flight(by_name.get("claim", []), by_name.get("finish", []), t0, t1)
    print("in flight (0.1 ms grid): " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()))
    claims = by_name.get("claim", [])
    before = sum(c[4] for c in claims if c[2] <= produced)
    after = sum(c[4] for c in claims if c[2] > produced)
    print(f"claimed while the producer enqueued: {before:,} ({before / (produced - t0):,.0f}/s); "
          f"after: {after:,} ({after / max(1e-9, t1 - produced):,.0f}/s)")  # fmt: skip
    return {"in_flight_" + k.replace(" ", "_").replace(",", ""): v for k, v in shares.items()}


def in_flight(
    claims: list[list[Any]], finishes: list[list[Any]], t0: float, t1: float
) -> dict[str, float]:
    """Share of the run with a default claim, an outcome write, both or neither in flight."""
    grid, steps = 0.0001, max(1, int((t1 - t0) / 0.0001))
    busy = {"claim": [False] * steps, "finish": [False] * steps}
    for name, cs in (("claim", claims), ("finish", finishes)):
        for c in cs:
            first, last = int((c[1] - t0) / grid), int((c[2] - t0) / grid)
            for i in range(max(0, first), min(steps, last + 1)):
                busy[name][i] = True
    counts = collections.Counter(zip(busy["claim"], busy["finish"], strict=True))
    names = {(True, True): "claim and write", (True, False): "claim only",
             (False, True): "write only", (False, False): "neither"}  # fmt: skip
    return {names[k]: counts[k] / steps for k in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default="pg", metavar="pg|URL")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--sample-ms", type=float, default=2.0)
    parser.add_argument("--no-activity", action="store_true", help="no pg_stat_activity samples")
    args = parser.parse_args()
    stores = Stores(args.store, None)
    try:
        # FULL: the URL leaves enqueues durable (as in pg_peers.py); the engine runs NORMAL.
        with stores.fresh("waits", "FULL") as url:
            every = args.sample_ms / 1000
            result = asyncio.run(run(url, args.jobs, args.batch, every, not args.no_activity))
    finally:
        stores.close()
    final_line({"bench": "pg_waits", **result})


if __name__ == "__main__":
    main()
