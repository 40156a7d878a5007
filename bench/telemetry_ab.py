"""Telemetry's cost on the hot path: `throughput.py --quick` with telemetry off and on, A/B.

Usage: uv run python bench/telemetry_ab.py [--rounds N] [--modes off,api]. Runs alternate
(off, api, off, api, ...) so a shared machine's drift hits both; reports the median of each
metric per mode and the cost against `off`. Modes: off (no telemetry, as without
`opentelemetry-api`), api (the API installed, no SDK: the default), sdk (SDK providers, no
exporter), export (SDK providers, every span handed to an exporter, metrics read). Prints a
table and a final JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

from _common import final_line, median, print_table

HERE = os.path.dirname(os.path.abspath(__file__))
METRICS = [
    "single_enqueue_per_s_NORMAL",
    "enqueue_many_per_s_NORMAL",
    "e2e_jobs_per_s_NORMAL",
    "engine_drain_jobs_per_s_NORMAL",
    "latency_inproc_p50_ms",
]


def run_once(mode: str) -> dict[str, Any]:
    env = {**os.environ, "JOBS_BENCH_TELEMETRY": mode}
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "throughput.py"), "--quick"],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def interleaved(rounds: int, n: int, modes: list[str]) -> dict[str, dict[str, float]]:
    """CPU µs per single enqueue and per drained job in one process, the modes interleaved
    in short blocks so that the machine's drift hits both alike. CPU time, not wall time:
    on a shared machine the wall clock also counts the other tenants' turns."""
    sys.path.insert(0, HERE)
    from _common import data_dir
    from _engine_proc import build, telemetry_mode

    from jobs_core import EnqueueRequest

    samples: dict[str, dict[str, list[float]]] = {}
    with data_dir(None, "bench-tel-") as directory:
        jobs = build(directory, "NORMAL")
        jobs._start_engine = False
        async with jobs:
            for round_ in range(rounds):
                # Each order half the time: a block pays for the checkpoint of the one before.
                for mode in modes if round_ % 2 else modes[::-1]:
                    telemetry_mode(jobs, mode)
                    jobs.engine.telemetry = jobs.telemetry
                    got = samples.setdefault(mode, {"enqueue_us": [], "drain_us": []})
                    start = time.process_time()
                    for i in range(n):
                        await jobs.enqueue("noop", {"i": i})
                    got["enqueue_us"].append((time.process_time() - start) / n * 1e6)
                    batch = [EnqueueRequest(command="noop", request={"i": i}) for i in range(n)]
                    await jobs.enqueue_many(batch)
                    start = time.process_time()
                    await jobs.run_until_idle()
                    got["drain_us"].append((time.process_time() - start) / (2 * n) * 1e6)
    return {m: {k: median(v) for k, v in d.items()} for m, d in samples.items()}


def _vs(value: float, base: float) -> str:
    return f"{value:.2f} ({(value / base - 1) * 100:+.1f}%)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default="off,api")
    parser.add_argument(
        "--inproc", action="store_true",
        help="instead: one process, off and api interleaved (robust on a busy machine)",
    )  # fmt: skip
    args = parser.parse_args()
    modes = args.modes.split(",")
    if args.inproc:
        result = asyncio.run(interleaved(max(args.rounds, 5) * 2, 1000, modes))
        base = result[modes[0]]
        print_table(
            ["mode", "CPU µs per enqueue", "CPU µs per drained job"],
            [[m, _vs(r["enqueue_us"], base["enqueue_us"]), _vs(r["drain_us"], base["drain_us"])]
             for m, r in result.items()],
        )  # fmt: skip
        final_line({"bench": "telemetry_ab", "inproc": result})
        return
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            runs[mode].append(run_once(mode))
    medians = {m: {k: median([r[k] for r in runs[m]]) for k in METRICS} for m in modes}
    base = medians[modes[0]]
    rows = []
    for key in METRICS:
        row: list[Any] = [key]
        for mode in modes:
            value = medians[mode][key]
            cost = (base[key] - value) / base[key] * 100 if key.endswith("per_s_NORMAL") else 0.0
            row.append(f"{value:,.2f}" + (f" ({cost:+.1f}%)" if mode != modes[0] else ""))
        rows.append(row)
    print(f"median of {args.rounds} alternating runs of throughput.py --quick; (+x%) = slower")
    print_table(["metric", *modes], rows)
    final_line({"bench": "telemetry_ab", "rounds": args.rounds, "medians": medians})


if __name__ == "__main__":
    main()
