"""Typed messages the refreshers post; handlers on the screens update the widgets."""

from __future__ import annotations

from textual.message import Message

from jobs_core import (
    BatchStatus,
    EngineInfo,
    Job,
    JobAttempt,
    JobResult,
    JobState,
    JobSummary,
    MonthDatabase,
    Page,
    RunningJob,
    ScheduledTaskInfo,
    ThroughputBucket,
)


class Loaded(Message):
    """Base of every refresher message; a newer one replaces an unprocessed older one."""

    coalesce = True
    """Whether a newer message of the same type may replace this one (toolong's rule)."""

    def can_replace(self, message: Message) -> bool:
        return type(message) is type(self) and self.coalesce and getattr(message, "coalesce", False)


class DashboardLoaded(Loaded):
    """Everything the dashboard shows, fetched in one refresh."""

    def __init__(
        self,
        counts: dict[JobState, int],
        throughput: list[ThroughputBucket],
        engines: list[EngineInfo],
        running: list[RunningJob],
        months: list[MonthDatabase],
    ) -> None:
        super().__init__()
        self.counts = counts
        self.throughput = throughput
        self.engines = engines
        self.running = running
        self.months = months


class JobsLoaded(Loaded):
    """One page of jobs for the queue or an archive view."""

    def __init__(
        self,
        page: Page[Job],
        *,
        append: bool = False,
        months: list[MonthDatabase] | None = None,
        month: str | None = None,
    ) -> None:
        super().__init__()
        self.page = page
        self.append = append
        """True for a "load more" page that continues the rows shown."""
        self.months = months
        """The month databases, for the archive views' month selector."""
        self.month = month
        """The month the page belongs to (archive views)."""
        self.coalesce = not append
        self.query = 0
        """Which query of the view produced the page; pages of an older query are dropped."""


class JobDetailLoaded(Loaded):
    """One job with its dependents and batch."""

    def __init__(
        self, result: JobResult, dependents: list[JobSummary], batch: BatchStatus | None,
        attempts: list[JobAttempt] | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.result = result
        self.dependents = dependents
        self.batch = batch
        self.attempts = attempts or []


class TasksLoaded(Loaded):
    """The scheduled tasks, with the state of each one's last job."""

    def __init__(self, tasks: list[ScheduledTaskInfo]) -> None:
        super().__init__()
        self.tasks = tasks


class WorkersLoaded(Loaded):
    """The engines and the jobs they run now."""

    def __init__(self, engines: list[EngineInfo], running: list[RunningJob]) -> None:
        super().__init__()
        self.engines = engines
        self.running = running


class LoadFailed(Loaded):
    """A refresh failed; the view keeps its last data and shows why."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error
