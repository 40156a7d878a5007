"""Where a batched PostgreSQL run waits: CPU use of each process, the server's wait events,
and the engine's claim / finish timeline, over one end-to-end run.

Usage: uv run python bench/pg_waits.py [--store pg|URL] [--jobs 20000] [--batch 500]
[--sample-ms 2] [--no-activity]

The producer (this process) enqueues `--jobs` no-op jobs with `enqueue_many` in batches of
`--batch`, an engine in a child process (`_pg_engine_probe.py`, which times each of its
store's calls) runs them. Meanwhile a thread samples every `--sample-ms`:

- each process's `/proc/PID/schedstat` (ns on a CPU, ns runnable but waiting for one): the
  producer, the engine, and every server process (so the server must run on this machine);
- `pg_stat_activity` (unless `--no-activity`): what each client backend is doing, and on
  what it waits (`wait_event_type` / `wait_event`), from a connection of its own (its cost
  lands on the server's figures: compare with `--no-activity`).

Printed: CPU and run-queue time of each process as a fraction of the run's wall time, the
machine's idle fraction, the server backends' states and wait events (fraction of samples),
and the engine's timeline: how long claims and finishes took, how often each overlapped the
other, and how long the engine ran neither.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import sys
import subprocess
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

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, "_pg_engine_probe.py")


def schedstat(pid: int) -> tuple[int, int]:
    """(ns on a CPU, ns waiting for one) of process `pid` and its threads (0, 0 once gone)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            run, wait, _ = f.read().split()
    except (FileNotFoundError, ProcessLookupError):
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


def idle_ns() -> int:
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    return (int(fields[3]) + int(fields[4])) * 10_000_000  # idle + iowait, USER_HZ 100


class Sampler(threading.Thread):
    """Samples CPU per process and (optionally) pg_stat_activity until `stop` is set."""

    def __init__(self, pids: dict[str, int], dsn: str | None, every: float) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.dsn = dsn
        self.every = every
        self.stop = threading.Event()
        self.activity: collections.Counter[tuple[str, str]] = collections.Counter()
        self.samples = 0
        self.first: dict[int, tuple[int, int]] = {}
        self.last: dict[int, tuple[int, int]] = {}

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        conn = await asyncpg.connect(self.dsn) if self.dsn else None
        me = conn.get_server_pid() if conn else 0
        try:
            while not self.stop.is_set():
                for pid in [*self.pids.values(), *postgres_pids()]:
                    stat = schedstat(pid)
                    self.first.setdefault(pid, stat)
                    self.last[pid] = stat
                if conn is not None:
                    await self._activity(conn, me)
                self.samples += 1
                await asyncio.sleep(self.every)
        finally:
            if conn is not None:
                await conn.close()

    async def _activity(self, conn: Any, me: int) -> None:
        rows = await conn.fetch(
            "SELECT state, wait_event_type, wait_event, left(query, 30) FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> $1 AND datname = current_database()",
            me,
        )
        for state, kind, event, query in rows:
            if state == "idle":
                key = ("idle", "")
            elif kind is None:
                key = ("on CPU: " + state, _statement(query))
            else:
                key = (f"{kind}: {event}", _statement(query))
            self.activity[key] += 1

    def cpu(self, pid: int) -> tuple[float, float]:
        a, b = self.first.get(pid, (0, 0)), self.last.get(pid, (0, 0))
        return (b[0] - a[0]) / 1e9, (b[1] - a[1]) / 1e9


def _statement(query: str) -> str:
    q = " ".join(query.split()).lower()
    for word, name in (("finish_jobs", "finish"), ("claim", "claim"), ("insert", "insert"),
                       ("with recursive", "claim"), ("commit", "commit"), ("listen", "listen"),
                       ("job_summary", "read"), ("select", "select")):  # fmt: skip
        if word in q:
            return name
    return q[:20]


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
        sampler = Sampler({"producer": os.getpid(), "engine": proc.pid}, dsn, every)
        sampler.start()
        await asyncio.sleep(0.2)
        idle0, t0 = idle_ns(), time.perf_counter()
        last = 0
        for first in range(0, n, batch):
            size = min(batch, n - first)
            requests = [EnqueueRequest(command="noop", request={"i": i}) for i in range(size)]
            last = (await jobs.enqueue_many(requests))[-1].id
        produced = time.perf_counter()
        await wait_completed(jobs, n + 1, proc, last)
        wall = time.perf_counter() - t0
        idle = (idle_ns() - idle0) / 1e9
        sampler.stop.set()
        await asyncio.to_thread(sampler.join)
    finally:
        await stop_engine(proc)
        await jobs.close()
        if attached is not None:
            attached.wait()
    with open(timeline) as f:
        calls = [json.loads(line) for line in f]
    if os.environ.get("JOBS_BENCH_KEEP"):
        with open(os.environ["JOBS_BENCH_KEEP"], "w") as out:
            json.dump({"t0": t0, "t1": t0 + wall, "produced": produced, "calls": calls}, out)
    os.unlink(timeline)
    return report(sampler, proc.pid, calls, t0, t0 + wall, produced - t0, idle, n)


def report(
    sampler: Sampler, engine_pid: int, calls: list[list[Any]], t0: float, t1: float,
    produce_secs: float, idle: float, n: int,
) -> dict[str, Any]:  # fmt: skip
    wall = t1 - t0
    rows = []
    server_run = server_wait = 0.0
    for name, pid in (("producer", os.getpid()), ("engine", engine_pid)):
        run_s, wait_s = sampler.cpu(pid)
        rows.append((name, f"{run_s / wall:.0%}", f"{wait_s / wall:.0%}", f"{run_s * 1e6 / n:.1f}"))
    busy = []
    for pid in sampler.first:
        if pid in (os.getpid(), engine_pid):
            continue
        run_s, wait_s = sampler.cpu(pid)
        server_run += run_s
        server_wait += wait_s
        busy.append((run_s, pid))
    for run_s, pid in sorted(busy, reverse=True)[:4]:
        rows.append((f"server pid {pid}", f"{run_s / wall:.0%}", f"{sampler.cpu(pid)[1] / wall:.0%}",
                     f"{run_s * 1e6 / n:.1f}"))  # fmt: skip
    rows.append(("server, all", f"{server_run / wall:.0%}", f"{server_wait / wall:.0%}",
                 f"{server_run * 1e6 / n:.1f}"))  # fmt: skip
    print(f"{n:,} jobs in {wall:.3f} s ({n / wall:,.0f} jobs/s); enqueues done at "
          f"{produce_secs:.3f} s; machine idle {idle / wall / 2:.0%} of 2 CPUs")  # fmt: skip
    print_table(["process", "on CPU", "runnable, waiting", "CPU µs a job"], rows)
    if sampler.samples and sampler.activity:
        total = sum(sampler.activity.values())
        act = [(k[0], k[1], f"{v / sampler.samples:.2f}", f"{v / total:.0%}")
               for k, v in sampler.activity.most_common(12)]  # fmt: skip
        print("\nclient backends (mean number in each state per sample, share of samples)")
        print_table(["state / wait", "statement", "backends", "share"], act)
    return {"jobs_per_s": n / wall, "idle": idle / wall / 2, **timeline(calls, t0, t1)}


def timeline(calls: list[list[Any]], t0: float, t1: float) -> dict[str, Any]:
    """Claims and finishes within the run: durations, overlap, and time with neither."""
    inside = [c for c in calls if c[2] >= t0 and c[1] <= t1]
    by_name: dict[str, list[list[Any]]] = collections.defaultdict(list)
    for c in inside:
        by_name[c[0]].append(c)
    rows = []
    for name, cs in sorted(by_name.items()):
        durations = sorted((c[2] - c[1]) * 1e3 for c in cs)
        total = sum(durations)
        jobs = sum(c[4] for c in cs)
        rows.append((name, len(cs), jobs, f"{durations[len(durations) // 2]:.2f}",
                     f"{durations[-1]:.2f}", f"{total / ((t1 - t0) * 1e3):.0%}"))  # fmt: skip
    print("\nengine's store calls during the run")
    print_table(["call", "calls", "jobs", "p50 ms", "max ms", "share of wall"], rows)
    claims = by_name.get("claim", [])
    finishes = by_name.get("finish", [])
    grid = 0.0001
    steps = int((t1 - t0) / grid)
    state = collections.Counter()
    for i in range(steps):
        t = t0 + i * grid
        c = any(a[1] <= t < a[2] for a in claims)
        f = any(a[1] <= t < a[2] for a in finishes)
        state[(c, f)] += 1
    names = {(True, True): "claim and finish", (True, False): "claim only",
             (False, True): "finish only", (False, False): "neither"}  # fmt: skip
    shares = {names[k]: v / steps for k, v in state.items()}
    print("\nengine's time (0.1 ms grid): " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()))
    empty = sum(1 for c in claims if c[4] == 0)
    print(f"claims that found nothing: {empty} of {len(claims)}; mean jobs a claim "
          f"{sum(c[4] for c in claims) / max(1, len(claims)):.1f}, a finish "
          f"{sum(c[4] for c in finishes) / max(1, len(finishes)):.1f}")  # fmt: skip
    return {"time_" + k.replace(" ", "_"): v for k, v in shares.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default="pg", metavar="pg|URL")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--sample-ms", type=float, default=2.0)
    parser.add_argument("--no-activity", action="store_true")
    args = parser.parse_args()
    stores = Stores(args.store, None)
    try:
        with stores.fresh("waits", "FULL") as url:  # enqueues wait for the flush, as in pg_peers
            result = asyncio.run(
                run(url, args.jobs, args.batch, args.sample_ms / 1000, not args.no_activity)
            )
    finally:
        stores.close()
    final_line({"bench": "pg_waits", **result})


if __name__ == "__main__":
    main()
