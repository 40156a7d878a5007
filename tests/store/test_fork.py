"""A process forked after the parent used a store (gunicorn `--preload` workers calling
`jobs.sync`) can use SQLite: `os.fork()` never lands while a store's own thread is inside
SQLite (`store/sqlite/fork_guard.py`), whose process-wide mutexes the child would inherit
locked."""

from __future__ import annotations

import os
import select
import sqlite3
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobs_core import BackgroundJobs, Durability
from jobs_core.store.sqlite import checkpointer, connection
from jobs_core.store.sqlite.fork_guard import ForkGuard
from tests.conftest import FAST
from tests.forking import enqueue_in_a_forked_child, wait_for_child

FORKS = 40
"""Before the fix 3 children in 100 hung: the checkpointer thread was opening its
connection when the fork came. 40 forks caught it 7 times in 10."""


@dataclass
class Greet:
    name: str


def test_children_forked_right_after_the_parent_opened_a_store_can_use_it(
    tmp_path: Path,
) -> None:
    codes = []
    for number in range(FORKS):
        jobs = BackgroundJobs(str(tmp_path / f"store{number}"), settings=FAST)
        jobs.command(name="greet")(lambda req: None)
        jobs.sync.enqueue("greet", Greet("parent"))  # opens the store: its threads start
        codes.append(enqueue_in_a_forked_child(jobs, "greet", Greet("child")))
        jobs.sync.close()
    assert codes == [0] * FORKS


def test_the_checkpointer_opens_its_connection_before_its_thread_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So a fork just after a store opened never lands inside that open."""
    opened_by: list[str] = []
    real_open = connection.open_connection

    def recording_open(*args: object, **kwargs: object) -> sqlite3.Connection:
        opened_by.append(threading.current_thread().name)
        return real_open(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(checkpointer, "open_connection", recording_open)
    path = str(tmp_path / "jobs.db")
    sqlite3.connect(path).close()
    started = checkpointer.Checkpointer(path, Durability.NORMAL)
    try:
        assert opened_by == [threading.current_thread().name]
    finally:
        started.close()


def test_a_fork_waits_for_a_guarded_thread_to_leave_sqlite() -> None:
    guard = ForkGuard()
    inside = threading.Event()
    left_at: list[float] = []

    def long_statement() -> None:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        with guard:
            inside.set()
            conn.execute(  # ~0.2-1 s of SQLite with the GIL let go
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                "WHERE i < 3000000) SELECT count(*) FROM n"
            ).fetchone()
            left_at.append(time.monotonic())
        conn.close()

    thread = threading.Thread(target=long_statement)
    thread.start()
    assert inside.wait(10)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write_end, struct.pack("d", time.monotonic()))
        os._exit(0)
    os.close(write_end)
    assert select.select([read_end], [], [], 30)[0], "the child never started"
    (child_started_at,) = struct.unpack("d", os.read(read_end, 8))
    os.close(read_end)
    assert wait_for_child(pid) == 0
    thread.join()
    assert child_started_at > left_at[0]
