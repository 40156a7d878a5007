"""Telemetry's cost on the hot path: `throughput.py --quick` with telemetry off and on, A/B.

Usage: uv run python bench/telemetry_ab.py [--rounds N] [--modes off,api]. Runs alternate
(off, api, off, api, ...) so a shared machine's drift hits both; reports the median of each
metric per mode and the cost against `off`. Modes: off (no telemetry, as without
`opentelemetry-api`), api (the API installed, no SDK: the default), sdk (SDK providers, no
exporter). Prints a table and a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default="off,api")
    args = parser.parse_args()
    modes = args.modes.split(",")
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
