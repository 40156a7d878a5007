"""A job's relations as a tree: what it waits for, its parent, what runs after it (its
dependents) and what it started (callbacks, replies, jobs its handler enqueued)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from jobs_core import BackgroundJobs, JobsError, JobSummary

GRAPH_LIMIT = 200
"""Most jobs a tree holds (wide fan-outs are cut, and say so)."""
ANCESTORS = 20
"""Most `depends_on` links followed upwards."""


@dataclass(slots=True)
class JobGraph:
    """The fetched relations of one job (summaries keyed by id)."""

    root: JobSummary
    ancestors: list[JobSummary] = field(default_factory=list)
    """What `root` waits for, nearest first."""
    parent: JobSummary | None = None
    dependents: dict[int, list[JobSummary]] = field(default_factory=dict)
    """Job id → the jobs that depend on it."""
    children: dict[int, list[JobSummary]] = field(default_factory=dict)
    """Job id → the jobs it started."""
    cut: bool = False
    """True when `GRAPH_LIMIT` stopped the walk."""


async def fetch_graph(jobs: BackgroundJobs, job_id: int) -> JobGraph:
    """Walk a job's relations through the admin API, `GRAPH_LIMIT` jobs at most."""
    root = (await jobs.get_job(job_id)).summary
    graph = JobGraph(root=root)
    link = root.depends_on
    while link is not None and len(graph.ancestors) < ANCESTORS:
        found = await _summary(jobs, link)
        if found is None:
            break
        graph.ancestors.append(found)
        link = found.depends_on
    # A job enqueued with `depends_on` has that job as its parent too: shown once, as what
    # it waits for (and, from the other side, as what runs after it).
    if root.parent_id is not None and root.parent_id != root.depends_on:
        graph.parent = await _summary(jobs, root.parent_id)
    seen = 1 + len(graph.ancestors)
    seen = await _walk(jobs.dependents, root.id, graph.dependents, seen)

    async def started(job_id: int) -> list[JobSummary]:
        return [s for s in await jobs.children(job_id) if s.depends_on != job_id]

    seen = await _walk(started, root.id, graph.children, seen)
    graph.cut = seen >= GRAPH_LIMIT
    return graph


async def _walk(
    relation: Callable[[int], Awaitable[list[JobSummary]]], start: int,
    into: dict[int, list[JobSummary]], seen: int,
) -> int:  # fmt: skip
    """Breadth first from `start`, recording each job's related jobs in `into`."""
    pending = [start]
    while pending and seen < GRAPH_LIMIT:
        current = pending.pop(0)
        found = (await relation(current))[: GRAPH_LIMIT - seen]
        into[current] = found
        seen += len(found)
        pending.extend(s.id for s in found if s.id not in into)
    return seen


async def _summary(jobs: BackgroundJobs, job_id: int) -> JobSummary | None:
    try:
        return (await jobs.get_job(job_id)).summary
    except JobsError:
        return None  # deleted
