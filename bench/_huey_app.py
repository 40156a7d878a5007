"""The huey side of `bench/peers.py`: a SqliteHuey with the same two tasks as jobs' bench.

Imported by the producer (peers.py) and the consumer (_huey_proc.py) so that both register
the tasks under the same names. Only for benchmarks run with
`uv run --with huey==3.5.4 python bench/peers.py`; huey is never a dependency of jobs.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from huey import SqliteHuey

FSYNC = {"default": None, "off": False}
"""huey's `fsync` option: None leaves SQLite's default (synchronous=FULL: an fsync of the WAL
at every commit, power-loss durable); False sets synchronous=OFF."""


class Tally:
    """Counts the no-op tasks this consumer ran and records `stamp` latencies."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.ran = 0
        self.latencies_ns: list[int] = []
        self._lock = threading.Lock()

    def count(self) -> None:
        with self._lock:
            self.ran += 1
            if self.ran == self.expected:
                print(f"done {time.time():.6f}", flush=True)


TALLY = Tally(int(os.environ.get("HUEY_BENCH_EXPECTED", "0")))


def make_huey(path: str, fsync: str) -> tuple[SqliteHuey, Any, Any]:
    """(huey, noop task, stamp task) on the SQLite file `path`."""
    huey = SqliteHuey("bench", filename=path, fsync=FSYNC[fsync])

    @huey.task()
    def noop(i: int) -> None:
        TALLY.count()

    @huey.task()
    def stamp(sent_ns: int) -> None:
        TALLY.latencies_ns.append(time.time_ns() - sent_ns)
        TALLY.count()

    return huey, noop, stamp


def require_huey_version() -> None:
    import huey

    if huey.__version__ != "3.5.4":
        sys.exit(f"bench/peers.py compares with huey 3.5.4; this is huey {huey.__version__}")
