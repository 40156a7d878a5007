"""The largest numbers the stores hold: counts and limits in 32 bits, ids and times in 64."""

from __future__ import annotations

from .errors import InvalidOptionError, JobNotFoundError

MAX_COUNT = 2**31 - 1
"""Retry limits, concurrency limits, rate limits, batch totals and task run budgets: a
PostgreSQL `integer`, so a larger one is refused at the call that gives it rather than by
the store (where, in a group commit, it would fail the other callers' enqueues too)."""

MAX_ID = 2**63 - 1
"""Job ids: a 64-bit integer on both stores. A larger one names no job."""


def check_job_id(job_id: object) -> None:
    """JobNotFoundError for an int id beyond `MAX_ID` either way: no job has it, and a
    store could not even look it up (SQLite raises OverflowError binding it)."""
    if beyond_ids(job_id):
        raise JobNotFoundError(f"there is no job {job_id}")


def beyond_ids(job_id: object) -> bool:
    """Whether `job_id` is an int no 64-bit id can be (no job has it)."""
    return isinstance(job_id, int) and not -MAX_ID - 1 <= job_id <= MAX_ID


def check_at_most(value: int, name: str) -> None:
    """A count the stores hold in 32 bits (`MAX_COUNT`): refused here if larger, before
    any store sees it."""
    if value > MAX_COUNT:
        raise InvalidOptionError(f"{name} must be at most {MAX_COUNT}, got {value}")


def check_page_limit(limit: object) -> None:
    """A page's `limit`: an int from 1 to `MAX_COUNT`, or InvalidOptionError naming it."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InvalidOptionError(f"limit must be an int >= 1, got {limit!r}")
    if limit > MAX_COUNT:
        raise InvalidOptionError(f"limit must be at most {MAX_COUNT}, got {limit}")
