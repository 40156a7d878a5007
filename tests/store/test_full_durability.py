"""`Durability.FULL` on SQLite: enqueues (their columnar form too) and outcomes wait for an
fsync each; claims and heartbeats do not (their loss on power loss only makes work run
again, and the next commit that fsyncs covers them: the WAL is append-only). Counted with
strace, in a process per operation."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("fsync_probe.py")
N = 20
ROOT = Path(__file__).resolve().parents[2]


def _fsyncs(store_dir: str, mode: str, tmp_path: Path) -> int:
    """fsync and fdatasync calls of one run of the probe in `mode`."""
    out = tmp_path / f"strace-{mode}.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync", "-o", str(out),
         sys.executable, str(PROBE), store_dir, mode],
        check=True, env=env, timeout=120,
    )  # fmt: skip
    return len(re.findall(r"\b(?:fsync|fdatasync)\(", out.read_text()))


def _can_trace() -> bool:
    """Whether strace is installed and may trace here (ptrace can be forbidden)."""
    if shutil.which("strace") is None:
        return False
    probe = subprocess.run(["strace", "-o", os.devnull, "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_trace(), reason="counting fsyncs needs strace, allowed to trace")
def test_full_claims_and_heartbeats_skip_the_fsync_enqueues_and_finishes_wait(
    store_dir: str, tmp_path: Path
) -> None:
    subprocess.run(
        [sys.executable, str(PROBE), store_dir, "seed"],
        check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120,
    )  # fmt: skip
    baseline = _fsyncs(store_dir, "open", tmp_path)
    counts = {m: _fsyncs(store_dir, m, tmp_path) - baseline for m in
              ("claim", "heartbeat", "finish", "enqueue", "columns")}  # fmt: skip
    assert counts["enqueue"] >= N, counts
    assert counts["columns"] >= N, counts  # `enqueue_each`'s own transaction
    assert counts["finish"] >= N, counts
    # Closing a store that was written checkpoints it (a few fsyncs, whatever was written).
    assert counts["claim"] < N // 2, counts
    assert counts["heartbeat"] < N // 2, counts
