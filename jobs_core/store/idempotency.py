"""Idempotent enqueue, the part both backends share: which jobs of an enqueue already exist.

A backend looks up the taken `ref_id`s and the `unique_key`s held by queued or started jobs
inside its enqueue transaction, and asks `resolve` what to do; it inserts the new jobs,
replaces the request of those `resolve` lists, and builds its answer with `assemble`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from jobs_core.errors import DuplicateRefIdError
from jobs_core.store.protocol import EnqueuedIds, NewJob


@dataclass(slots=True)
class Resolution:
    """Which jobs of an enqueue exist already, and which are new."""

    existing: dict[int, int] = field(default_factory=dict)
    """Position in the call → id of the job already holding its ref_id or unique key."""
    same_as: dict[int, int] = field(default_factory=dict)
    """Position → an earlier position of the same call with the same unique key."""
    replace: list[int] = field(default_factory=list)
    """Positions whose existing job takes their request and `run_after` (if still queued)."""

    def new_positions(self, n: int) -> list[int]:
        return [i for i in range(n) if i not in self.existing and i not in self.same_as]

    def assemble(self, n: int, new_ids: Sequence[int]) -> EnqueuedIds:
        """The ids of all `n` jobs in order, from the ids of the new ones."""
        fresh = self.new_positions(n)
        if len(fresh) == n:
            return EnqueuedIds(new_ids)
        by_position = dict(zip(fresh, new_ids, strict=True))
        by_position.update(self.existing)
        for position, earlier in sorted(self.same_as.items()):
            by_position[position] = by_position[earlier]
        return EnqueuedIds([by_position[i] for i in range(n)], {*self.existing, *self.same_as})


def needs_lookup(jobs: Sequence[NewJob]) -> bool:
    """Whether some job has a ref_id or a unique key to look up."""
    return any(j.ref_id is not None or j.unique_key is not None for j in jobs)


def refuse_repeated_ref_ids(jobs: Sequence[NewJob]) -> None:
    """One ref_id given to two jobs of one call is an error whatever `on_conflict` says."""
    seen: set[str] = set()
    for job in jobs:
        if job.ref_id is None:
            continue
        if job.ref_id in seen:
            raise DuplicateRefIdError(
                f"ref_id '{job.ref_id}' is given to two jobs in one enqueue", ref_id=job.ref_id
            )
        seen.add(job.ref_id)


def resolve(jobs: Sequence[NewJob], taken: dict[str, int], active: dict[str, int]) -> Resolution:
    """What to do with each job, given the ref_ids already taken (ref_id → job id) and the
    unique keys held by queued or started jobs (key → job id).

    Raises DuplicateRefIdError for a taken ref_id with `on_conflict="raise"`.
    """
    found = Resolution()
    first: dict[str, int] = {}
    for position, job in enumerate(jobs):
        if job.ref_id is not None and job.ref_id in taken:
            holder = taken[job.ref_id]
            if job.on_conflict == "raise":
                raise DuplicateRefIdError(
                    f"ref_id '{job.ref_id}' is already used by job {holder}",
                    ref_id=job.ref_id, existing_id=holder,
                )  # fmt: skip
            if job.on_conflict == "replace":
                found.replace.append(position)
            found.existing[position] = holder
            continue
        key = job.unique_key
        if key is None:
            continue
        if key in active:
            found.existing[position] = active[key]
        elif key in first:
            found.same_as[position] = first[key]
        else:
            first[key] = position
    return found


def not_queued(job: NewJob, holder: int) -> DuplicateRefIdError:
    """The error of `on_conflict="replace"` when the job holding the ref_id has started."""
    assert job.ref_id is not None
    return DuplicateRefIdError(
        f"ref_id '{job.ref_id}' is held by job {holder}, which is no longer queued; "
        "on_conflict='replace' only changes a queued job",
        ref_id=job.ref_id, existing_id=holder,
    )  # fmt: skip
