"""Same work on jobs and on huey 3.5.4, in one run, alternating, with ratios per workload.

Run: `uv run --with huey==3.5.4 python bench/peers.py [--quick] [--runs N]` (huey is pulled
for the benchmark only; it is never a dependency of jobs).

Systems: jobs (NORMAL unless stated), huey's SqliteHuey with its defaults (`fsync=None`:
SQLite's synchronous=FULL, an fsync at every commit, power-loss durable like jobs FULL), and
SqliteHuey with `fsync=False` (synchronous=OFF: no fsync at all, less durable than jobs
NORMAL, which survives a crash of the process and keeps the file sound on power loss). The
consumer is huey's own `Consumer` with its defaults (one worker thread; it polls from 0.1 s,
backing off to 10 s while idle), in its own process, as jobs' engine is.

Workloads (every run checks that exactly N jobs ran, counted by the handlers):
  (a) one producer awaiting one enqueue per job, N no-op jobs, consumer in another process;
  (b) 100 concurrent producers in one process (coroutines for jobs, threads for huey);
  (c) batched enqueue, jobs only (`enqueue_many` of 500): huey has no batch API (its
      `task.map()` enqueues one task per call);
  (d) enqueue -> start latency at 50 jobs/s across processes (p50, p99);
  (e) (a) at FULL durability: jobs FULL against huey's default, which is FULL;
  (p) the ceiling of (a) and (e): the same producer with no engine, NORMAL and FULL.
Each run of a workload measures every system once, in an order that rotates between runs so
machine drift hits all of them; figures are medians of the runs, ratios medians of the
per-run ratios. A run's time goes from the first enqueue to the moment the consumer's own
process says its N-th handler ran, for both systems alike (huey's consumer and jobs' engine
each print it), and no process polls the store meanwhile; jobs' outcomes are then counted
(every job completed, not timed), and the rate to that count is printed for (a) and (e) as
well: the stricter end, where a reader polls the store every 5 ms. For (a) and (e) the table
also gives the CPU time a job of jobs' two processes while the jobs ran (the producer's
process, the engine's from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from _common import cpu_secs, data_dir, final_line, median, percentile, print_table
from _engine_proc import build
from throughput import (
    _batch,
    paced_stamps,
    read_latencies,
    start_engine,
    stop_engine,
    wait_completed,
)

from jobs_core import BackgroundJobs, JobState

try:
    from _huey_app import make_huey, require_huey_version
except ImportError:
    sys.exit("bench/peers.py needs huey: uv run --with huey==3.5.4 python bench/peers.py")

HUEY_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_huey_proc.py")
STALL_SECS = 60.0
SETTLE_SECS = 0.5
"""Pause between starting the engine or consumer and the first enqueue (both idle then)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Sizes of one benchmark run (`--quick` shrinks them)."""

    parent: str | None
    runs: int
    n: int
    producers: int
    batch: int
    latency_n: int
    latency_rate: float
    only: str
    """The workloads to run, by letter ("ae": (a) and (e) only)."""


def config(args: argparse.Namespace) -> Config:
    if args.quick:
        return Config(parent=args.dir, runs=1, n=2000, producers=100, batch=500,
                      latency_n=100, latency_rate=50.0, only=args.only)  # fmt: skip
    return Config(parent=args.dir, runs=args.runs, n=10_000, producers=100, batch=500,
                  latency_n=500, latency_rate=50.0, only=args.only)  # fmt: skip


# -- jobs -----------------------------------------------------------------------------------

Produce = Callable[[BackgroundJobs], Awaitable[Any]]
CPU: dict[str, list[tuple[float, float]]] = {"NORMAL": [], "FULL": []}
"""CPU µs a job of the producer's and the engine's process, per run, by durability."""
COUNTED: dict[str, list[float]] = {"NORMAL": [], "FULL": []}
"""Jobs/s of a one-producer run to every outcome counted (`wait_completed`), by durability."""


async def jobs_run(
    cfg: Config, n: int, durability: str, produce: Produce,
    collect: Callable[[BackgroundJobs, Any], Awaitable[Any]] | None = None,
) -> tuple[float, float, Any]:  # fmt: skip
    """(seconds from the first enqueue to the engine's n-th `noop` handler, and to the n-th
    completion counted, what `collect` made of what `produce` returned), with the engine in
    another process; checks exactly `n` jobs ran and completed. With `collect` (the `stamp`
    jobs of (d)) the first is the second."""
    with data_dir(cfg.parent, "peers-jobs-") as directory:
        jobs = build(directory, durability)
        if collect is None:  # the engine prints when its n-th `noop` ran, as huey's consumer
            os.environ["JOBS_BENCH_DONE_AT"] = str(n)
        try:
            proc, _ = await start_engine(directory, durability)
        finally:
            os.environ.pop("JOBS_BENCH_DONE_AT", None)
        await asyncio.sleep(SETTLE_SECS)
        try:
            cpu = time.process_time(), cpu_secs(proc.pid)
            began, start = time.time(), time.perf_counter()
            produced = await produce(jobs)
            if collect is None:
                elapsed = await engine_done(proc) - began
            CPU[durability].append(
                ((time.process_time() - cpu[0]) / n * 1e6, (cpu_secs(proc.pid) - cpu[1]) / n * 1e6)
            )
            await wait_completed(jobs, n, proc)
            counted = time.perf_counter() - start
            if collect is not None:
                elapsed = counted
            completed = (await jobs.counts())[JobState.COMPLETED]
            if collect is not None:
                produced = await collect(jobs, produced)
        finally:
            ran = await stop_engine(proc)
            await jobs.close()
    _check_ran("jobs", n, ran, completed)
    return elapsed, counted, produced


async def engine_done(proc: asyncio.subprocess.Process) -> float:
    """When (epoch seconds) the engine process said its n-th handler ran
    (`JOBS_BENCH_DONE_AT`)."""
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), timeout=STALL_SECS)).decode()
    if not line.startswith("done "):
        raise RuntimeError(f"the engine process stopped early (exit {proc.returncode}): {line!r}")
    return float(line.split()[1])


def jobs_rate(cfg: Config, durability: str, produce: Produce) -> float:
    elapsed, counted, _ = asyncio.run(jobs_run(cfg, cfg.n, durability, produce))
    COUNTED[durability].append(cfg.n / counted)
    return cfg.n / elapsed


def producer_alone(cfg: Config, durability: str) -> float:
    """Awaited enqueues a second with no engine anywhere: what bounds (a) and (e)."""

    async def run() -> float:
        with data_dir(cfg.parent, "peers-alone-") as directory:
            jobs = build(directory, durability)
            try:
                start = time.perf_counter()
                await one_producer(cfg)(jobs)
                elapsed = time.perf_counter() - start
                queued = (await jobs.counts())[JobState.QUEUED]
            finally:
                await jobs.close()
        _check_ran("jobs (enqueued)", cfg.n, queued, queued)
        return cfg.n / elapsed

    return asyncio.run(run())


def one_producer(cfg: Config) -> Produce:
    async def produce(jobs: BackgroundJobs) -> None:
        for i in range(cfg.n):
            await jobs.enqueue("noop", {"i": i})

    return produce


def concurrent_producers(cfg: Config) -> Produce:
    async def producer(jobs: BackgroundJobs, first: int) -> None:
        for i in range(first, cfg.n, cfg.producers):
            await jobs.enqueue("noop", {"i": i})

    async def produce(jobs: BackgroundJobs) -> None:
        await asyncio.gather(*(producer(jobs, p) for p in range(cfg.producers)))

    return produce


def batched(cfg: Config) -> Produce:
    async def produce(jobs: BackgroundJobs) -> None:
        for first in range(0, cfg.n, cfg.batch):
            await jobs.enqueue_many(_batch(first, min(cfg.batch, cfg.n - first)))

    return produce


def jobs_latency(cfg: Config) -> list[float]:
    async def produce(jobs: BackgroundJobs) -> list[int]:
        return await paced_stamps(cfg, jobs)  # type: ignore[arg-type]  # same fields

    _, _, latencies = asyncio.run(
        jobs_run(cfg, cfg.latency_n, "NORMAL", produce, collect=read_latencies)
    )
    return latencies  # type: ignore[no-any-return]


# -- huey -----------------------------------------------------------------------------------


class HueyConsumer:
    """huey's consumer in its own process (`_huey_proc.py`), its output read by a thread."""

    def __init__(self, path: str, fsync: str, expected: int) -> None:
        env = {**os.environ, "HUEY_BENCH_EXPECTED": str(expected)}
        self.proc = subprocess.Popen(
            [sys.executable, HUEY_SCRIPT, path, fsync], stdout=subprocess.PIPE, text=True,
            env=env,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.expect("ready")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put("eof")

    def expect(self, word: str) -> str:
        """The rest of the next line starting with `word`."""
        while True:
            try:
                line = self.lines.get(timeout=STALL_SECS)
            except queue.Empty:
                raise TimeoutError(f"huey consumer: no '{word}' in {STALL_SECS:g}s") from None
            if line == "eof":
                raise RuntimeError(f"huey consumer exited ({self.proc.wait()}) before '{word}'")
            if line.startswith(word):
                return line[len(word) :].strip()

    def stop(self) -> tuple[int, list[int]]:
        """Stop it gracefully; (tasks it ran, stamp latencies in ns)."""
        self.proc.send_signal(signal.SIGINT)
        ran = int(self.expect("ran"))
        latencies = json.loads(self.expect("lat"))
        self.proc.wait(timeout=60)
        return ran, latencies


def huey_run(cfg: Config, fsync: str, n: int, produce: Callable[[Any], None]) -> float:
    """Seconds from the first enqueue to the n-th task done (reported by the consumer)."""
    with data_dir(cfg.parent, "peers-huey-") as directory:
        path = os.path.join(directory, "huey.db")
        huey, noop, _ = make_huey(path, fsync)
        consumer = HueyConsumer(path, fsync, n)
        try:
            time.sleep(SETTLE_SECS)
            start = time.time()
            produce(noop)
            done = float(consumer.expect("done"))
        finally:
            ran, _ = consumer.stop()
        pending = huey.pending_count()
        huey.storage.close()
    _check_ran(f"huey ({fsync})", n, ran, n - pending)
    return done - start


def huey_one_producer(cfg: Config) -> Callable[[Any], None]:
    def produce(noop: Any) -> None:
        for i in range(cfg.n):
            noop(i)

    return produce


def huey_concurrent_producers(cfg: Config) -> Callable[[Any], None]:
    def produce(noop: Any) -> None:
        def producer(first: int) -> None:
            for i in range(first, cfg.n, cfg.producers):
                noop(i)

        threads = [threading.Thread(target=producer, args=(p,)) for p in range(cfg.producers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    return produce


def huey_rate(cfg: Config, fsync: str, produce: Callable[[Any], None]) -> float:
    return cfg.n / huey_run(cfg, fsync, cfg.n, produce)


def huey_latency(cfg: Config, fsync: str) -> list[float]:
    with data_dir(cfg.parent, "peers-huey-lat-") as directory:
        path = os.path.join(directory, "huey.db")
        huey, _, stamp = make_huey(path, fsync)
        consumer = HueyConsumer(path, fsync, cfg.latency_n)
        try:
            time.sleep(SETTLE_SECS)
            start = time.perf_counter()
            for i in range(cfg.latency_n):
                delay = start + i / cfg.latency_rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                stamp(time.time_ns())
            consumer.expect("done")
        finally:
            ran, latencies = consumer.stop()
        huey.storage.close()
    _check_ran(f"huey ({fsync})", cfg.latency_n, ran, len(latencies))
    return [lat / 1e6 for lat in latencies]


def _check_ran(system: str, n: int, ran: int, done: int) -> None:
    if ran != n or done != n:
        raise RuntimeError(f"{system}: {n} jobs enqueued, {ran} ran, {done} done")


# -- driver ---------------------------------------------------------------------------------

Measure = Callable[[], Any]


def rotate(runs: int, systems: dict[str, Measure]) -> dict[str, list[Any]]:
    """Each system once per run, the order rotating between runs; results per system."""
    names = list(systems)
    results: dict[str, list[Any]] = {name: [] for name in names}
    for run in range(runs):
        order = names[run % len(names) :] + names[: run % len(names)]
        for name in order:
            results[name].append(systems[name]())
            print(f"  run {run + 1}/{runs} {name}: {_show(results[name][-1])}", file=sys.stderr)
    return results


def _show(value: Any) -> str:
    if isinstance(value, list):
        return f"p50 {percentile(value, 50):.2f} ms, p99 {percentile(value, 99):.2f} ms"
    return f"{value:,.0f}/s"


def ratios(results: dict[str, list[float]], a: str, b: str) -> float:
    """Median over runs of a's figure divided by b's in the same run."""
    return median([x / y for x, y in zip(results[a], results[b], strict=True)])


def measure(cfg: Config) -> dict[str, Any]:
    r: dict[str, Any] = {}
    if "a" in cfg.only or "e" in cfg.only:
        r.update(measure_one_producer(cfg))
    if "b" in cfg.only:
        print(f"(b) {cfg.producers} concurrent producers", file=sys.stderr)
        b = rotate(cfg.runs, {
            "jobs": lambda: jobs_rate(cfg, "NORMAL", concurrent_producers(cfg)),
            "huey": lambda: huey_rate(cfg, "default", huey_concurrent_producers(cfg)),
            "huey_nofsync": lambda: huey_rate(cfg, "off", huey_concurrent_producers(cfg)),
        })  # fmt: skip
        r.update({f"b_{k}_per_s": median(v) for k, v in b.items()})
        r["b_ratio_huey"] = ratios(b, "jobs", "huey")
        r["b_ratio_huey_nofsync"] = ratios(b, "jobs", "huey_nofsync")
    if "c" in cfg.only:
        print(f"(c) enqueue_many of {cfg.batch}", file=sys.stderr)
        c = rotate(cfg.runs, {"jobs": lambda: jobs_rate(cfg, "NORMAL", batched(cfg))})
        r["c_jobs_per_s"] = median(c["jobs"])
    if "p" in cfg.only:
        print("(p) one producer, no engine", file=sys.stderr)
        p = rotate(cfg.runs, {
            "jobs": lambda: producer_alone(cfg, "NORMAL"),
            "jobs_full": lambda: producer_alone(cfg, "FULL"),
        })  # fmt: skip
        r["p_jobs_per_s"] = median(p["jobs"])
        r["p_jobs_full_per_s"] = median(p["jobs_full"])
    if "d" in cfg.only:
        print(f"(d) latency at {cfg.latency_rate:g} jobs/s", file=sys.stderr)
        d = rotate(cfg.runs, {
            "jobs": lambda: jobs_latency(cfg),
            "huey": lambda: huey_latency(cfg, "default"),
            "huey_nofsync": lambda: huey_latency(cfg, "off"),
        })  # fmt: skip
        for name, runs in d.items():
            for q in (50, 99):
                r[f"d_{name}_p{q}_ms"] = median([percentile(v, q) for v in runs])
    return r


def measure_one_producer(cfg: Config) -> dict[str, Any]:
    """(a) and (e): jobs NORMAL and FULL beside huey's two settings (only those asked for)."""
    print("(a) and (e): one producer, one awaited enqueue per job", file=sys.stderr)
    systems: dict[str, Measure] = {
        "jobs": lambda: jobs_rate(cfg, "NORMAL", one_producer(cfg)),
        "jobs_full": lambda: jobs_rate(cfg, "FULL", one_producer(cfg)),
        "huey": lambda: huey_rate(cfg, "default", huey_one_producer(cfg)),
        "huey_nofsync": lambda: huey_rate(cfg, "off", huey_one_producer(cfg)),
    }
    if "a" not in cfg.only:
        del systems["jobs"], systems["huey_nofsync"]
    if "e" not in cfg.only:
        del systems["jobs_full"]
    a = rotate(cfg.runs, systems)
    r: dict[str, Any] = {f"a_{k}_per_s": median(v) for k, v in a.items() if k != "jobs_full"}
    if "a" in cfg.only:
        r["a_ratio_huey"] = ratios(a, "jobs", "huey")
        r["a_ratio_huey_nofsync"] = ratios(a, "jobs", "huey_nofsync")
    for letter, durability in (("a", "NORMAL"), ("e", "FULL")):
        runs = CPU[durability][-cfg.runs :]
        if letter in cfg.only and runs:
            r[f"{letter}_cpu_producer_us"] = median([p for p, _ in runs])
            r[f"{letter}_cpu_engine_us"] = median([e for _, e in runs])
            r[f"{letter}_counted_per_s"] = median(COUNTED[durability][-cfg.runs :])
    if "e" in cfg.only:
        r["e_jobs_full_per_s"] = median(a["jobs_full"])
        r["e_huey_per_s"] = median(a["huey"])
        r["e_ratio_huey"] = ratios(a, "jobs_full", "huey")
    return r


def rows(r: dict[str, Any], cfg: Config) -> list[tuple[Any, ...]]:
    n = f"{cfg.n:,}"
    table = [
        ("a", f"(a) 1 producer, {n} jobs, jobs/s", "a_jobs_per_s", "a_huey_per_s",
         "a_huey_nofsync_per_s", "a_ratio_huey", "a_ratio_huey_nofsync", ">= 10x, >= 2.5x"),
        ("b", f"(b) {cfg.producers} producers, jobs/s", "b_jobs_per_s", "b_huey_per_s",
         "b_huey_nofsync_per_s", "b_ratio_huey", "b_ratio_huey_nofsync", ">= 20,000/s"),
        ("c", f"(c) enqueue_many({cfg.batch}), jobs/s", "c_jobs_per_s", None, None, None, None,
         ">= 25,000/s"),
        ("d", "(d) latency p50 ms, 50/s", "d_jobs_p50_ms", "d_huey_p50_ms",
         "d_huey_nofsync_p50_ms", None, None, "<= 1 ms"),
        ("d", "(d) latency p99 ms, 50/s", "d_jobs_p99_ms", "d_huey_p99_ms",
         "d_huey_nofsync_p99_ms", None, None, "<= 5 ms"),
        ("a", "(a) to every outcome counted, jobs/s", "a_counted_per_s", None, None, None,
         None, ""),
        ("a", "(a) CPU µs a job: jobs' producer", "a_cpu_producer_us", None, None, None, None,
         ""),
        ("a", "(a) CPU µs a job: jobs' engine", "a_cpu_engine_us", None, None, None, None, ""),
        ("e", "(e) FULL: (a), jobs FULL, jobs/s", "e_jobs_full_per_s", "e_huey_per_s", None,
         "e_ratio_huey", None, ">= 2x"),
        ("e", "(e) to every outcome counted, jobs/s", "e_counted_per_s", None, None, None,
         None, ""),
        ("e", "(e) CPU µs a job: jobs' producer", "e_cpu_producer_us", None, None, None, None,
         ""),
        ("e", "(e) CPU µs a job: jobs' engine", "e_cpu_engine_us", None, None, None, None, ""),
        ("p", "(p) (a) with no engine, enqueues/s", "p_jobs_per_s", None, None, None, None,
         "ceiling of (a)"),
        ("p", "(p) (e) with no engine, enqueues/s", "p_jobs_full_per_s", None, None, None,
         None, "ceiling of (e)"),
    ]  # fmt: skip
    out: list[tuple[Any, ...]] = []
    for letter, label, jobs, huey, nofsync, vs_huey, vs_nofsync, target in table:
        if letter not in cfg.only:
            continue
        if letter == "c":  # huey has no batch API
            out.append((label, r[jobs], "no batch API", "no batch API", "-", "-", target))
            continue
        out.append((label, r[jobs], r[huey] if huey else "-", r[nofsync] if nofsync else "-",
                    _x(r[vs_huey]) if vs_huey else "-",
                    _x(r[vs_nofsync]) if vs_nofsync else "-", target))  # fmt: skip
    return out


def _x(ratio: float) -> str:
    return f"{ratio:.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one run (smoke)")
    parser.add_argument("--runs", type=int, default=3, help="runs per workload (medians)")
    parser.add_argument("--dir", default=None, help="parent of the temporary data directories")
    parser.add_argument(
        "--only", default="abcdep", help="workloads to run, by letter (default abcdep; 'ae')"
    )
    cfg = config(parser.parse_args())
    require_huey_version()
    result = measure(cfg)
    print(f"jobs vs huey 3.5.4: median of {cfg.runs} run(s), {os.cpu_count()} CPUs; "
          "huey = SqliteHuey defaults (synchronous=FULL), huey nofsync = fsync=False "
          "(synchronous=OFF); jobs NORMAL except (e)")  # fmt: skip
    print_table(
        ["workload", "jobs", "huey", "huey nofsync", "vs huey", "vs nofsync", "target"],
        rows(result, cfg),
    )
    final_line({"bench": "peers", "quick": bool(cfg.runs == 1 and cfg.n < 10_000),
                "runs": cfg.runs, "n": cfg.n, **result})  # fmt: skip


if __name__ == "__main__":
    main()
