"""Helpers shared by the benchmarks: data directories, timing statistics, tables, memory."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PARENT = os.path.dirname(REPO)
"""Data directories go beside the repository: on disk, in the project's filesystem."""


@contextmanager
def data_dir(parent: str | None, prefix: str) -> Iterator[str]:
    """A fresh temporary directory under `parent` (default: the repo's parent), removed after."""
    path = tempfile.mkdtemp(prefix=prefix, dir=parent or DEFAULT_PARENT)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def extract_revision(rev: str, into: str, *paths: str) -> None:
    """The files of revision `rev` (all of them, or only `paths`) into the directory `into`,
    for the benchmarks that compare this tree with another."""
    archive = subprocess.run(
        ["git", "-C", REPO, "archive", rev, *paths], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)


def base_tree(base: str | None, base_dir: str | None, extracted: str) -> str | None:
    """The tree to compare this one with: `base_dir` as it is, or revision `base` extracted
    into `extracted` (a temporary directory); None when neither is given."""
    if base_dir:
        return base_dir
    if base:
        extract_revision(base, extracted)
        return extracted
    return None


def rotated(names: list[str], n: int) -> list[str]:
    """The order of round `n` when runs of several trees take turns going first (with two,
    they alternate), so that a shared machine's drift falls on all of them."""
    k = n % len(names)
    return names[k:] + names[:k]


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rss_mb(pid: int | None = None) -> tuple[float, float]:
    """(current RSS, peak RSS) in MiB of this process, or of process `pid`, from /proc."""
    found: dict[str, float] = {}
    with open(f"/proc/{pid or 'self'}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) / 1024
    return found.get("VmRSS", float("nan")), found.get("VmHWM", float("nan"))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain, aligned text table."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def final_line(result: dict[str, Any]) -> None:
    """The machine-readable last line: one JSON object (floats to 3 decimals)."""
    print(json.dumps(_rounded(result), sort_keys=True))


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_secs(pid: int) -> float:
    """User and system CPU of process `pid` so far, from /proc (0 once it has gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS
