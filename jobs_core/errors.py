"""The exception hierarchy of jobs: every error the library raises is a `JobsError`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .records import JobResult


class JobsError(Exception):
    """Root of every error raised by jobs; its message names the thing at fault."""


class JobsWarning(UserWarning):
    """Something that works now but may fail later, e.g. a `reply_to` naming a `$VARIABLE`
    that is not set in the enqueuing process (the engine that delivers it may have it)."""


class PermanentError(JobsError):
    """An error a retry cannot fix: the job fails at once, whatever its retry limit.

    Handlers raise it (or a subclass) for failures that no second attempt can change, such as
    a declined card; jobs raises it for configuration errors and requests of the wrong shape.
    `code` becomes the job's error code (default: the class name).
    """

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code or type(self).__name__


class UnknownCommandError(JobsError):
    """A command name that no handler is registered for and no engine declared."""


class UnserialisableRequestError(JobsError):
    """A request that cannot be stored as JSON."""


class UnserialisableResultError(PermanentError):
    """A handler's result that cannot be stored as JSON; the job fails at once."""


class InvalidRequestError(PermanentError):
    """A request whose fields do not fit the command's request type (missing, unknown or of
    the wrong type); `field_errors` maps each field to what is wrong with it."""

    def __init__(self, message: str, field_errors: dict[str, str] | None = None) -> None:
        super().__init__(message, code="InvalidRequest")
        self.field_errors = dict(field_errors or {})


class DuplicateRefIdError(JobsError):
    """A `ref_id` already used by another job (`existing_id`), or given twice in one call."""

    def __init__(self, message: str, *, ref_id: str, existing_id: int | None = None) -> None:
        super().__init__(message)
        self.ref_id = ref_id
        self.existing_id = existing_id
        """The job that already has the ref_id; None when one call gave it to two jobs."""


class JobNotFoundError(JobsError):
    """No job has the given id or ref_id."""


class InvalidStateError(JobsError):
    """An admin action that does not apply to the job's current state."""


class InvalidOptionError(JobsError):
    """An enqueue or engine option with a value that cannot be used."""


class BatchCancelledError(PermanentError):
    """An enqueue into a batch that was cancelled: a cancelled batch takes no new jobs (and
    a handler that meets it is not retried: the batch stays cancelled)."""

    def __init__(self, message: str, *, batch_id: str) -> None:
        super().__init__(message)
        self.batch_id = batch_id


class BatchClosedError(PermanentError):
    """An enqueue into a batch that was closed (`batch.close()`, or its declared total
    reached) or has finished: no job may join it any more."""

    def __init__(self, message: str, *, batch_id: str) -> None:
        super().__init__(message)
        self.batch_id = batch_id


class BatchNotFoundError(JobsError):
    """No batch has the given id."""


class InvalidScheduleError(JobsError):
    """A cron expression, interval or shortcut that cannot be scheduled."""


class InvalidQueryError(JobsError):
    """A job query (`state:failed command:x`) with a term that cannot be read."""


class InvalidReplyToError(PermanentError):
    """A `reply_to` target that does not follow the URL mini-language, or names an
    environment variable that is not set where the reply is delivered."""


class StoreError(JobsError):
    """The store cannot be opened or used: missing, corrupt, newer schema, disk full."""


class StoreNotFoundError(StoreError):
    """The store directory or its `jobs.db` does not exist."""


class SchemaTooNewError(StoreError):
    """The store was written by a newer version of jobs than this one."""


class ReadOnlyStoreError(StoreError):
    """A change asked of a store opened read-only (`jobs tui --read-only`)."""


class StoreBusyError(StoreError):
    """The database stayed locked by another process past the busy timeout."""


class StoreUnavailableError(StoreError):
    """The database server cannot be reached, or the connection to it was lost."""


class StoreAuthenticationError(StoreError):
    """The database server refused the credentials (wrong password, unknown role)."""


class JobCancelledError(JobsError):
    """Raised inside a handler (or to a waiter) when its job was cancelled."""


class JobFailedError(JobsError):
    """A job ended in failure: a transient command (`run_command`), or a stored job waited
    on (`jobs.wait`), whose `job` attribute then holds the failed job.

    For `run_command`, `__cause__` is the handler's exception; `code` and `message` are the
    job error the same failure would record on a stored job (the exception's class name and
    text). For `jobs.wait` they are the stored job's error code and message.
    """

    def __init__(
        self,
        message: str,
        *,
        command: str = "",
        code: str = "",
        error_message: str = "",
        job: JobResult | None = None,
    ) -> None:
        super().__init__(message)
        self.command = command
        self.code = code
        self.message = error_message
        self.job = job


class JobTimeoutError(JobFailedError):
    """A transient command ran past its timeout (async handler cancelled, sync handler's
    cancel event set); code `Timeout`."""

    def __init__(self, message: str, *, command: str, timeout: float) -> None:
        super().__init__(message, command=command, code="Timeout", error_message=message)
        self.timeout = timeout


class StillBusyError(JobsError):
    """`run_until_idle` reached its deadline while jobs were still running or due;
    `running` lists (job id, command) of the jobs still running."""

    def __init__(self, message: str, *, running: list[tuple[int, str]]) -> None:
        super().__init__(message)
        self.running = running


class TaskNotFoundError(JobsError):
    """No scheduled task has the given name."""


class WaitTimeoutError(JobsError, TimeoutError):
    """`jobs.wait` gave up: the job did not finish within the timeout (it keeps running)."""
