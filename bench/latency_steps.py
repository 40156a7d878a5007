"""Where enqueue -> start latency across processes goes, step by step (`peers.py`'s (d)).

Usage: uv run python bench/latency_steps.py [--jobs 300] [--rate 50]

A producer enqueues no-op jobs at a fixed rate; an engine in another process (this script
again, with `engine` as its first argument) stamps the wall time (`time.time_ns()`, one clock
for both processes) at each step of its path: the inotify callback (`WakeWatch._ready`), the
dispatch loop awake (`Engine._wait` returned), the claim transaction begun and returned
(`SqliteStore.claim`, with the ids it took), and the handler started. The producer stamps
before `enqueue` and after it returned (committed). A job's steps are those around the claim
that took it: the loop's last wake-up before it (by inotify, or by the 1 ms poll: the table
says how many of each). p50 and p90 per step in µs, and the total (the stamp before the
enqueue to the handler's start, as `peers.py` measures it). The wrappers cost a few µs a
step. Prints a table and a final JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import signal
import sys
import time
from typing import Any

from _common import data_dir, final_line, percentile, print_table
from _engine_proc import build

Event = tuple[int, str, Any]
"""(wall ns, step, detail)."""

STEPS = ("enqueue", "commit -> loop awake", "loop -> claim", "claim", "claim -> handler",
         "total")  # fmt: skip


def instrument(jobs: Any, events: list[Event]) -> None:
    """Stamp the engine's steps in `events` (wrapping the methods that begin or end them)."""
    from jobs_core.engine.engine import Engine
    from jobs_core.store.sqlite.store import SqliteStore
    from jobs_core.store.sqlite.wake import WakeWatch

    def mark(step: str, detail: Any = None) -> None:
        events.append((time.time_ns(), step, detail))

    ready, wait, claim = WakeWatch._ready, Engine._wait, SqliteStore.claim

    def ready_(self: WakeWatch) -> None:
        mark("inotify")
        ready(self)

    async def wait_(self: Engine, now: int) -> None:
        await wait(self, now)
        mark("loop")

    async def claim_(self: SqliteStore, **kwargs: Any) -> Any:
        mark("claim0")
        found = await claim(self, **kwargs)
        mark("claim1", [job.id for job in found])
        return found

    WakeWatch._ready = ready_  # type: ignore[method-assign]
    Engine._wait = wait_  # type: ignore[method-assign]
    SqliteStore.claim = claim_  # type: ignore[method-assign]

    async def step_probe(req: dict[str, int]) -> None:
        mark("handler", req["i"])

    jobs.command(name="step_probe")(step_probe)


async def engine(directory: str) -> None:
    events: list[Event] = []
    jobs = build(directory, "NORMAL")
    instrument(jobs, events)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    async with jobs:
        await stop.wait()
    with open(os.path.join(directory, "events.json"), "w") as file:
        json.dump(events, file)


Sent = list[tuple[int, int, int]]
"""(job id, wall ns before the enqueue, wall ns once it returned) per job."""


async def producer(directory: str, n: int, rate: float) -> tuple[Sent, list[Event]]:
    jobs = build(directory, "NORMAL")
    jobs.command(name="step_probe")(lambda req: None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "engine", directory, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    await proc.stdout.readline()
    await asyncio.sleep(0.5)
    sent: Sent = []
    start = time.perf_counter()
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        before = time.time_ns()
        ref = await jobs.enqueue("step_probe", {"i": i})
        sent.append((ref.id, before, time.time_ns()))
    await asyncio.sleep(0.5)
    proc.terminate()
    await proc.wait()
    await jobs.close()
    with open(os.path.join(directory, "events.json")) as file:
        return sent, json.load(file)


def steps(sent: Sent, events: list[Event]) -> tuple[dict[str, list[float]], int]:
    """Each step's durations in µs over the jobs whose every step was found, and how many
    of those the engine found after an inotify wake-up (the others: at a poll)."""
    by_step: dict[str, list[int]] = {}
    for when, step, _ in events:
        by_step.setdefault(step, []).append(when)
    claimed = {i: when for when, step, ids in events if step == "claim1" for i in ids or ()}
    started = {n: when for when, step, n in events if step == "handler"}

    def last_before(step: str, t: int) -> int | None:
        found = by_step.get(step, [])
        i = bisect.bisect_left(found, t)
        return found[i - 1] if i else None

    out: dict[str, list[float]] = {step: [] for step in STEPS}
    by_inotify = 0
    for n, (job_id, before, committed) in enumerate(sent):
        end, handler = claimed.get(job_id), started.get(n)
        begin = last_before("claim0", end) if end is not None else None
        awake = last_before("loop", begin) if begin is not None else None
        if end is None or handler is None or begin is None or awake is None:
            continue
        awake = max(awake, committed)  # awake already (at work) when the job came
        chain = [before, committed, awake, begin, end, handler]
        for step, a, b in zip(STEPS, chain, chain[1:], strict=False):
            out[step].append((b - a) / 1000)
        out["total"].append((handler - before) / 1000)
        woken = last_before("inotify", awake + 1)
        by_inotify += woken is not None and woken >= committed
    return out, by_inotify


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "engine":
        asyncio.run(engine(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    with data_dir(None, "bench-latsteps-") as directory:
        sent, events = asyncio.run(producer(directory, args.jobs, args.rate))
    found, by_inotify = steps(sent, events)
    rows = [(step, len(v), percentile(v, 50), percentile(v, 90)) for step, v in found.items()]
    print(
        f"enqueue -> start across processes at {args.rate:g} jobs/s, µs "
        f"({by_inotify} of {len(found['total'])} jobs found after an inotify wake-up)"
    )
    print_table(["step", "jobs", "p50", "p90"], rows)
    final_line({"bench": "latency_steps", "jobs": args.jobs, "rate": args.rate,
                "by_inotify": by_inotify,
                **{f"{step} p50": percentile(v, 50) for step, v in found.items()}})  # fmt: skip


if __name__ == "__main__":
    main()
