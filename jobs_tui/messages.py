"""Typed messages the refreshers post; handlers on the screens update the widgets."""

from __future__ import annotations

from textual.message import Message

from jobs_core import (
    BatchStatus,
    CommandFigures,
    EngineInfo,
    Job,
    JobAttempt,
    JobResult,
    JobState,
    JobSummary,
    MonthDatabase,
    Page,
    QueueInfo,
    RunningJob,
    ScheduledTaskInfo,
    ThroughputBucket,
    WaitInfo,
)
from jobs_tui.health import Health
from jobs_tui.job_graph import JobGraph
from jobs_tui.list_window import Fetch


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

    def data(self) -> tuple[object, ...]:
        """Everything shown, for telling whether anything changed."""
        return (self.counts, self.throughput, self.engines, self.running, self.months)


class JobsLoaded(Loaded):
    """Pages of jobs for a list view, each for the window fetch that asked for it."""

    def __init__(
        self,
        pages: list[tuple[Fetch, Page[Job]]],
        *,
        blocked_by: dict[int, int] | None = None,
        why: dict[int, WaitInfo] | None = None,
        months: list[MonthDatabase] | None = None,
        month: str | None = None,
    ) -> None:
        super().__init__()
        self.pages = pages
        self.blocked_by = blocked_by or {}
        """Queued jobs still waiting for a parent: job id → parent id."""
        self.why = why or {}
        """Why each queued job waits (flow control), by job id."""
        self.months = months
        """The month databases, for the archive views' month selector."""
        self.month = month
        """The month the pages belong to (archive views)."""
        self.coalesce = all(fetch.kind != "more" for fetch, _ in pages)


class BatchLoaded(JobsLoaded):
    """The pages of a batch view, with the batch's progress."""

    def __init__(self, pages: list[tuple[Fetch, Page[Job]]], *, status: BatchStatus) -> None:
        super().__init__(pages)
        self.status = status


class CommandsLoaded(Loaded):
    """Per-command figures over two windows, and the chart of the selected command."""

    def __init__(
        self, short: list[CommandFigures], long: list[CommandFigures], command: str | None,
        throughput: list[ThroughputBucket],
    ) -> None:  # fmt: skip
        super().__init__()
        self.short = short
        self.long = long
        self.command = command
        self.throughput = throughput


class GraphLoaded(Loaded):
    """A job and the jobs related to it, for the dependency tree."""

    def __init__(self, graph: JobGraph) -> None:
        super().__init__()
        self.graph = graph


class HealthChanged(Message):
    """The engines serving the store changed (an engine started, stopped, went stale)."""

    def __init__(self, health: Health) -> None:
        super().__init__()
        self.health = health


class JobDetailLoaded(Loaded):
    """One job with its dependents and batch."""

    def __init__(
        self, result: JobResult, dependents: list[JobSummary], batch: BatchStatus | None,
        attempts: list[JobAttempt] | None = None, why: WaitInfo | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.result = result
        self.dependents = dependents
        self.batch = batch
        self.attempts = attempts or []
        self.why = why
        """Why the job waits, while it is queued (flow control's reasons, in words)."""


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


class QueuesLoaded(Loaded):
    """Every queue with its settings and figures."""

    def __init__(self, queues: list[QueueInfo]) -> None:
        super().__init__()
        self.queues = queues
