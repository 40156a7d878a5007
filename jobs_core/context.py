"""What a handler receives: its job, a job logger, progress, cancellation and its user."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import JobCancelledError, JobsError
from .records import BatchStatus, Job, JobResult
from .serialization import storable_text

if TYPE_CHECKING:
    from .app import BackgroundJobs

current_context: contextvars.ContextVar[JobContext] = contextvars.ContextVar("jobs_context")


def current_job() -> JobContext:
    """The context of the job running in this task or thread (for code deep in the stack)."""
    try:
        return current_context.get()
    except LookupError:
        raise JobsError("no job is running in this context") from None


def current_user() -> Any:
    """The resolved user of the running job, or None when the job has no user_id."""
    return current_job().user


@dataclass(slots=True)
class Activity:
    """Progress, status and log text not yet written to the store."""

    logs: list[str] = field(default_factory=list)
    progress: float | None = None
    status: str | None = None
    dirty: bool = False


class JobLogger:
    """A logger whose lines are appended to the job's logs and also go to Python logging."""

    def __init__(self, ctx: JobContext, name: str) -> None:
        self._ctx = ctx
        self._name = name
        self._logger_cache: logging.Logger | None = None

    @property
    def _logger(self) -> logging.Logger:
        # Looked up on first use: getLogger takes a lock, and most jobs never log.
        if self._logger_cache is None:
            self._logger_cache = logging.getLogger(self._name)
        return self._logger_cache

    def debug(self, msg: str, *args: object) -> None:
        self._log(logging.DEBUG, msg, args)

    def info(self, msg: str, *args: object) -> None:
        self._log(logging.INFO, msg, args)

    def warning(self, msg: str, *args: object) -> None:
        self._log(logging.WARNING, msg, args)

    def error(self, msg: str, *args: object) -> None:
        self._log(logging.ERROR, msg, args)

    def exception(self, msg: str, *args: object) -> None:
        import traceback

        self._log(logging.ERROR, msg + "\n" + traceback.format_exc().rstrip(), args)

    def _log(self, level: int, msg: str, args: tuple[object, ...]) -> None:
        text = msg % args if args else msg
        stamp = time.strftime("%H:%M:%S", time.gmtime(self._ctx.now_ms() / 1000))
        self._ctx._append_log(f"{stamp} {logging.getLevelName(level)} {text}\n")
        if self._logger.isEnabledFor(level):
            self._logger.log(level, "job %s: %s", self._ctx.job.id, text)


class JobContext:
    """Handed to every handler: the job, logging, progress, cancellation, user, parent."""

    def __init__(
        self,
        job: Job,
        *,
        jobs: BackgroundJobs | None,
        now_ms: Callable[[], int],
        on_activity: Callable[[], None],
        parent: Job | None = None,
        user: Any = None,
    ) -> None:
        self.job = job
        """The job as it was claimed (its request, args, attempts, reply_to, ...)."""
        self.jobs = jobs
        """The facade, to enqueue follow-up jobs (e.g. with `depends_on=ctx.job.id`)."""
        self.parent = parent
        """The job this one depends on (`depends_on`, the first when several), request and
        result included."""
        self._parents: list[JobResult] | None = None
        self.parent_batch: BatchStatus | None = None
        """The batch this job waited for (`depends_on_batch`): its counts and failed ids."""
        self.user = user
        """The app's user object for `job.user_id`, from the registered resolver."""
        self.running_since: float | None = time.monotonic()
        """`time.monotonic()` when the handler began; None while a sync one waits for a thread."""
        self._cancel_event: threading.Event | None = None
        self._cancelled = False
        self._log: JobLogger | None = None
        self.now_ms = now_ms
        self._on_activity = on_activity
        self._lock = threading.Lock()
        self._activity: Activity | None = None
        """Made at the first report: most jobs report nothing (an `Activity` and its list of
        logs are two objects more for the garbage collector a running job)."""

    @property
    def parents(self) -> list[JobResult]:
        """Every job this one depends on, with its state and row (`depends_on` given a list,
        or the `finished` policy, under which parents may have failed or been cancelled)."""
        # Made on first use: most jobs have none (a list less a running job).
        parents = self._parents
        if parents is None:
            parents = self._parents = []
        return parents

    @parents.setter
    def parents(self, value: list[JobResult]) -> None:
        self._parents = value

    @property
    def activity(self) -> Activity:
        """Progress, status and log text not yet written to the store."""
        activity = self._activity
        if activity is None:
            with self._lock:
                activity = self._unwritten()
        return activity

    def _unwritten(self) -> Activity:
        """The activity not yet written, made if none is (call it holding `_lock`)."""
        activity = self._activity
        if activity is None:
            activity = self._activity = Activity()
        return activity

    @property
    def log(self) -> JobLogger:
        """The job's logger: lines go to the job's logs and to Python logging."""
        # Made on first use: the logger and the context refer to each other, a cycle only
        # the garbage collector frees (~4 µs a job in collections, measured); most jobs
        # never log.
        log = self._log
        if log is None:
            log = self._log = JobLogger(self, f"jobs.{self.job.command}")
        return log

    @property
    def cancel_event(self) -> threading.Event:
        """Set when the job is cancelled or times out; sync handlers can wait on it."""
        with self._lock:
            if self._cancel_event is None:
                # Made on first use: most async jobs never need one (it costs ~7 µs).
                self._cancel_event = threading.Event()
                if self._cancelled:
                    self._cancel_event.set()
            return self._cancel_event

    def request_cancel(self) -> None:
        """Mark the job as asked to stop (the engine calls this on cancel or timeout)."""
        with self._lock:
            self._cancelled = True
            event = self._cancel_event
        if event is not None:
            event.set()

    @property
    def cancelled(self) -> bool:
        """Whether the job was asked to stop (cancel or timeout)."""
        return self._cancelled

    def raise_if_cancelled(self) -> None:
        """Raise JobCancelledError if the job was asked to stop; call it in loops."""
        if self._cancelled:
            raise JobCancelledError(f"job {self.job.id} was cancelled")

    def progress(self, value: float, status: str | None = None) -> None:
        """Report progress between 0 and 1, and optionally a status text."""
        with self._lock:
            activity = self._unwritten()
            activity.progress = min(1.0, max(0.0, float(value)))
            if status is not None:
                activity.status = storable_text(status)
            activity.dirty = True
        self._on_activity()

    def status(self, text: str) -> None:
        """Report a status text (shown next to the progress bar)."""
        with self._lock:
            activity = self._unwritten()
            activity.status = storable_text(text)
            activity.dirty = True
        self._on_activity()

    def _append_log(self, line: str) -> None:
        with self._lock:
            activity = self._unwritten()
            activity.logs.append(storable_text(line))
            activity.dirty = True
        self._on_activity()

    def take_activity(self) -> Activity | None:
        """The unwritten activity, resetting it; None when there is none."""
        activity = self._activity
        if activity is None or not activity.dirty:
            # Most jobs report nothing: no lock taken at their end. A report made after
            # this read stays for the next take, as it would after a take under the lock.
            return None
        with self._lock:
            taken = self._activity
            if taken is None or not taken.dirty:
                return None
            self._activity = Activity(progress=taken.progress, status=taken.status)
            return taken

    def give_back(self, taken: Activity) -> None:
        """Return activity that could not be written, ahead of what came since, so the next
        write carries both (progress and status since then are newer and stay)."""
        with self._lock:
            activity = self._unwritten()
            activity.logs[:0] = taken.logs
            activity.dirty = True
