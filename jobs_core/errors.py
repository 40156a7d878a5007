"""The exception hierarchy of jobs: every error the library raises is a `JobsError`."""

from __future__ import annotations


class JobsError(Exception):
    """Root of every error raised by jobs; its message names the thing at fault."""


class UnknownCommandError(JobsError):
    """A command name that no handler is registered for."""


class UnserialisableRequestError(JobsError):
    """A request or result that cannot be stored as JSON."""


class DuplicateRefIdError(JobsError):
    """A `ref_id` already used by another job."""


class JobNotFoundError(JobsError):
    """No job has the given id or ref_id."""


class InvalidStateError(JobsError):
    """An admin action that does not apply to the job's current state."""


class InvalidOptionError(JobsError):
    """An enqueue or engine option with a value that cannot be used."""


class InvalidScheduleError(JobsError):
    """A cron expression, interval or shortcut that cannot be scheduled."""


class InvalidReplyToError(JobsError):
    """A `reply_to` target that does not follow the URL mini-language."""


class StoreError(JobsError):
    """The store cannot be opened or used: missing, corrupt, newer schema, disk full."""


class StoreNotFoundError(StoreError):
    """The store directory or its `jobs.db` does not exist."""


class SchemaTooNewError(StoreError):
    """The store was written by a newer version of jobs than this one."""


class StoreBusyError(StoreError):
    """The database stayed locked by another process past the busy timeout."""


class StoreUnavailableError(StoreError):
    """The database server cannot be reached, or the connection to it was lost."""


class StoreAuthenticationError(StoreError):
    """The database server refused the credentials (wrong password, unknown role)."""


class JobCancelledError(JobsError):
    """Raised inside a handler (or to a waiter) when its job was cancelled."""


class JobFailedError(JobsError):
    """A transient command (`run_command`) ended in failure; wraps the handler's error."""


class TaskNotFoundError(JobsError):
    """No scheduled task has the given name."""
