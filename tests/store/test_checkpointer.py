"""At every durability the WAL of `jobs.db` stays bounded while a producer keeps committing
(`store/sqlite/checkpointer.py`): checkpoints rewind it, so commits overwrite the file
instead of growing it (an append's fsync also journals the file's new size; at NORMAL an
append costs the committer a fresh page of the kernel's cache)."""

from __future__ import annotations

import os
import struct
from dataclasses import replace

import pytest

from jobs_core import Durability
from jobs_core.store.sqlite import checkpointer
from tests.conftest import FAST, MakeJobs

LIMIT = 256 * 1024
MAX_ENQUEUES = 12_000


def rewinds(wal: str) -> int:
    """How many times the WAL started over: its header's checkpoint sequence number."""
    with open(wal, "rb") as file:
        return int(struct.unpack(">I", file.read(16)[12:16])[0])


@pytest.mark.parametrize("durability", [Durability.NORMAL, Durability.FULL])
async def test_wal_is_rewound_while_a_producer_keeps_committing(
    make_jobs: MakeJobs, store_dir: str, monkeypatch: pytest.MonkeyPatch, durability: Durability
) -> None:
    monkeypatch.setattr(checkpointer, "WAL_LIMIT_BYTES", LIMIT)
    monkeypatch.setattr(checkpointer, "CHECK_SECS", 0.01)
    jobs = make_jobs(start_engine=False, settings=replace(FAST, durability=durability))
    jobs.command(name="item")(lambda req: None)
    wal = os.path.join(store_dir, "jobs.db-wal")
    largest = 0
    # A producer that never pauses, until the WAL has started over 4 times: ~2.5 MB through
    # the WAL on a quiet disk (~10 times its limit). A RESTART waits at most 2 ms for a gap
    # between commits, and a slow disk (fsyncs of several ms) leaves few, so the producer
    # goes on up to ~40 MB. With passive checkpoints alone the WAL started over 0 or 1 times
    # in 10 MB and grew to ~the 10 MB.
    for n in range(MAX_ENQUEUES):
        # A ref_id (looked up as it is inserted): each job committed to `jobs.db` itself,
        # not to the inbox.
        await jobs.enqueue("item", {"n": n, "pad": "x" * 3000}, ref_id=f"producer-{n}")
        largest = max(largest, os.path.getsize(wal))
        if n % 100 == 0 and rewinds(wal) >= 4:
            break
    assert rewinds(wal) >= 4, largest
    await jobs.close()
