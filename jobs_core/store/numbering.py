"""How a batch enqueue numbers its jobs: higher priorities first.

A job's id is its row's place in the table (SQLite keeps rows by rowid), so jobs numbered
one after another share pages. Claims take a queue's jobs by priority, then due time, then
id: a batch of mixed priorities numbered in list order puts the jobs one claim takes
several ids apart, each on a page of its own, which the claim, the finish and the archive
each write again (2 KB pages hold ~10 jobs). Numbered by priority they sit together.
Only ids *within one batch* change, and only when its jobs have different priorities:
jobs of one priority keep their order in the batch (so they stay first in, first out),
and a later batch's ids are still all larger.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from jobs_core.store.protocol import NewJob


def by_priority(jobs: list[NewJob]) -> list[int] | None:
    """The positions of `jobs` by priority, highest first (stable), or None when that is
    the order they come in (one priority, the common case: no sort)."""
    return order([j.priority for j in jobs])


def order(priorities: Sequence[int]) -> list[int] | None:
    """`by_priority` of jobs with these priorities."""
    if all(a >= b for a, b in pairwise(priorities)):
        return None
    ranks = [-p for p in priorities]
    return sorted(range(len(ranks)), key=ranks.__getitem__)


def restore(order: list[int], ids: list[int]) -> list[int]:
    """The ids of jobs inserted in `order`, back in the caller's order."""
    placed = [0] * len(ids)
    for position, job_id in zip(order, ids, strict=True):
        placed[position] = job_id
    return placed
