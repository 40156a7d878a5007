"""Progress, status and log lines of running jobs: gathered for one group write, and kept
for the next write when one fails (a full disk), so none is lost."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from jobs_core.context import Activity, JobContext
from jobs_core.records import Job
from jobs_core.rules import Attempt
from jobs_core.store.protocol import ActivityUpdate


def take_all(contexts: Mapping[int, JobContext]) -> dict[int, Activity]:
    """The unwritten activity of each running job that has some, by job id."""
    taken: dict[int, Activity] = {}
    for job_id, ctx in contexts.items():
        activity = ctx.take_activity()
        if activity is not None:
            taken[job_id] = activity
    return taken


def updates(taken: Mapping[int, Activity]) -> list[ActivityUpdate]:
    return [
        ActivityUpdate(job_id=i, logs="".join(a.logs), progress=a.progress, status=a.status)
        for i, a in taken.items()
    ]


def give_back(
    taken: Mapping[int, Activity],
    contexts: Mapping[int, JobContext],
    outcomes: list[tuple[Job, Attempt]],
) -> None:
    """Return unwritten activity to its job, or to the job's pending outcome (whose final
    write carries its logs) if the job finished meanwhile."""
    for job_id, activity in taken.items():
        ctx = contexts.get(job_id)
        if ctx is not None:
            ctx.give_back(activity)
            continue
        for n, (job, attempt) in enumerate(outcomes):
            if job.id == job_id:
                logs = "".join(activity.logs) + attempt.logs
                outcomes[n] = (job, replace(attempt, logs=logs))
