"""Enqueue options: the `EnqueueRequest` record and the checks every option passes.

The checks run on every enqueue, so they are plain type tests with no allocation on the
common path; each failure is an `InvalidOptionError` naming the option and what it takes.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .clock import to_ms
from .errors import InvalidOptionError, JobsWarning
from .fast_init import fast_init
from .flow_records import (
    ON_CONFLICT_CHOICES,
    OnConflict,
    check_concurrency,
    check_duration,
    check_priority,
    check_queue_name,
)
from .limits import MAX_ID, check_at_most
from .records import DependencyPolicy
from .retry_policy import RetryPolicy, check_policy
from .serialization import storable


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class EnqueueRequest:
    """One job for `enqueue_many`: the same options as `enqueue`."""

    command: str
    request: Any = None
    worker: str | None = None
    run_after: datetime | timedelta | None = None
    retry_limit: int | None = None
    timeout: float | None = None
    ref_id: str | None = None
    tag: str | None = None
    created_by: str | None = None
    batch_id: str | None = None
    args: Mapping[str, str] | None = None
    parent_id: int | None = None
    depends_on: int | Sequence[int] | None = None
    depends_on_batch: str | None = None
    depends_policy: DependencyPolicy | str | None = None
    callback: str | None = None
    user_id: str | None = None
    reply_to: str | None = None
    queue: str | None = None
    priority: int | None = None
    expires_at: datetime | None = None
    expires_in: timedelta | None = None
    concurrency_key: str | None = None
    concurrency_limit: int | None = None
    unique_key: str | None = None
    on_conflict: OnConflict | None = None
    retry: RetryPolicy | None = None
    meta: Mapping[str, str] = field(default_factory=dict)


TEXT_OPTIONS = (
    "worker", "ref_id", "tag", "created_by", "batch_id", "callback", "user_id", "reply_to",
    "depends_on_batch", "concurrency_key", "unique_key",
)  # fmt: skip
"""Options that take a non-empty string (an empty one would mean nothing, or the default)."""


def bad_text(value: object) -> bool:
    """Whether a text option set to `value` is refused: not a string, empty or blank, or
    not storable as UTF-8."""
    return (
        not isinstance(value, str) or not value or value.isspace()
        or not (value.isascii() or storable(value))
    )  # fmt: skip


def check_options(r: EnqueueRequest) -> None:
    """Refuse any option of the wrong type or value, naming it."""
    if bad_text(r.command):
        raise _text_error("command", r.command)
    for name in TEXT_OPTIONS:
        value = getattr(r, name)
        if value is not None and bad_text(value):
            raise _text_error(name, value)
    if r.retry_limit is not None:
        check_retry_limit(r.retry_limit, "retry_limit")
    if r.timeout is not None:
        check_timeout(r.timeout, "timeout")
    if r.parent_id is not None:
        _check_id(r.parent_id, "parent_id")
    if r.depends_on is not None or r.depends_policy is not None:
        _check_dependencies(r)
    if r.args is not None:
        check_string_map(r.args, "args")
    if r.meta:
        check_string_map(r.meta, "meta")
    if r.reply_to is not None:
        from .reply_to import unset_variables, validate_reply_to

        validate_reply_to(r.reply_to)
        _warn_unset(unset_variables(r.reply_to, os.environ))
    if (
        r.queue is not None or r.priority is not None or r.expires_at is not None
        or r.expires_in is not None or r.concurrency_limit is not None
        or r.on_conflict is not None or r.retry is not None
    ):  # fmt: skip
        _check_flow_options(r)


def _check_dependencies(r: EnqueueRequest) -> None:
    if r.depends_on is not None:
        _check_parents(r.depends_on)
    if r.depends_policy is not None:
        dependency_policy(r.depends_policy)


def _check_flow_options(r: EnqueueRequest) -> None:
    """The flow-control options, checked only when one is set (rare on the hot path)."""
    if r.queue is not None:
        check_queue_name(r.queue)
    if r.priority is not None:
        check_priority(r.priority)
    if r.expires_at is not None and r.expires_in is not None:
        raise InvalidOptionError("give expires_at or expires_in, not both")
    if r.expires_at is not None:
        expires_at_ms(r.expires_at)
    if r.expires_in is not None:
        check_duration(r.expires_in, "expires_in")
    if r.concurrency_limit is not None:
        check_concurrency(r.concurrency_limit, "concurrency_limit")
    if r.on_conflict is not None and r.on_conflict not in ON_CONFLICT_CHOICES:
        raise InvalidOptionError(
            f"on_conflict must be one of {', '.join(ON_CONFLICT_CHOICES)}, got {r.on_conflict!r}"
        )
    if r.on_conflict not in (None, "raise") and r.ref_id is None:
        raise InvalidOptionError(
            f"on_conflict={r.on_conflict!r} needs a ref_id: it says what to do when the ref_id "
            "is taken"
        )
    if r.retry is not None:
        check_policy(r.retry)


def expires_at_ms(value: object) -> int:
    """`expires_at` as epoch ms: an aware datetime (naive is refused, as for run_after)."""
    if not isinstance(value, datetime):
        raise InvalidOptionError(
            f"expires_at must be a datetime with a time zone, got {type(value).__name__} {value!r}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidOptionError(
            f"expires_at {value.isoformat()} is a naive datetime (no time zone); pass an "
            "aware datetime, or expires_in as a timedelta"
        )
    return to_ms(value)


def _text_error(name: str, value: object) -> InvalidOptionError:
    if name == "command" and not (isinstance(value, str) and value.strip()):
        return InvalidOptionError(f"command must be a command name, got {value!r}")
    if isinstance(value, str) and value.strip():
        return InvalidOptionError(
            f"{name} {value!a} holds a lone surrogate, which UTF-8 cannot encode (text "
            "decoded from bytes that were not UTF-8?)"
        )
    if isinstance(value, str):
        return InvalidOptionError(f"{name} must not be empty; leave it out (None) instead")
    return InvalidOptionError(f"{name} must be a string, got {type(value).__name__} {value!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_retry_limit(value: object, name: str) -> None:
    """A retry limit: an int of 0 or more."""
    if not _is_int(value):
        raise InvalidOptionError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    assert isinstance(value, int)
    if value < 0:
        raise InvalidOptionError(f"{name} must be >= 0, got {value}")
    check_at_most(value, name)


def check_command_options(worker: object, retry_limit: object, timeout: object) -> None:
    """The options of `@jobs.command(...)`, checked before any handler is registered."""
    if worker is not None and (not isinstance(worker, str) or not worker.strip()):
        raise InvalidOptionError(f"worker must be a non-empty string, got {worker!r}")
    if retry_limit is not None:
        check_retry_limit(retry_limit, "retry_limit")
    if timeout is not None:
        check_timeout(timeout, "timeout")


def check_timeout(value: object, name: str) -> None:
    """A timeout: a finite number of seconds above 0."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidOptionError(
            f"{name} must be a number of seconds, got {type(value).__name__} {value!r}"
        )
    if not math.isfinite(value) or value <= 0:
        raise InvalidOptionError(f"{name} must be > 0 seconds, got {value}")


def _check_id(value: object, name: str) -> None:
    if not _is_int(value):
        raise InvalidOptionError(
            f"{name} must be a job id (an int), got {type(value).__name__} {value!r}"
        )
    assert isinstance(value, int)
    if value < 1:
        raise InvalidOptionError(f"{name} must be a job id (1 or more), got {value}")
    if value > MAX_ID:
        raise InvalidOptionError(f"{name} must be a job id (at most {MAX_ID}), got {value}")


def _check_parents(value: object) -> None:
    if _is_int(value):
        _check_id(value, "depends_on")
        return
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value:
        raise InvalidOptionError(
            f"depends_on must be a job id or a non-empty list of job ids, got "
            f"{type(value).__name__} {value!r}"
        )
    for item in value:
        _check_id(item, "depends_on")
    if len(set(value)) != len(value):
        raise InvalidOptionError(f"depends_on lists a job twice: {list(value)!r}")


def parents_of(depends_on: int | Sequence[int] | None) -> list[int]:
    """The parent ids of an (already checked) `depends_on`."""
    if depends_on is None:
        return []
    if isinstance(depends_on, int):
        return [depends_on]
    return list(depends_on)


def dependency_policy(value: object) -> DependencyPolicy:
    """`depends_policy` as the enum, or InvalidOptionError naming the policies."""
    if isinstance(value, DependencyPolicy):
        return value
    if isinstance(value, str) and value in DependencyPolicy._value2member_map_:
        return DependencyPolicy(value)
    known = ", ".join(p.value for p in DependencyPolicy)
    raise InvalidOptionError(f"depends_policy must be one of {known}, got {value!r}")


def check_string_map(value: object, name: str) -> None:
    """A mapping of strings to strings (`args`, `meta`)."""
    if not isinstance(value, Mapping):
        raise InvalidOptionError(
            f"{name} must map strings to strings, got {type(value).__name__} {value!r}"
        )
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InvalidOptionError(
                f"{name} must map strings to strings; {key!r}: {item!r} is not a string pair"
            )
        if not (key.isascii() and item.isascii()) and not storable(key + item):
            raise InvalidOptionError(
                f"{name}: {key!a}: {item!a} holds a lone surrogate, which UTF-8 "
                "cannot encode (text decoded from bytes that were not UTF-8?)"
            )


def run_after_ms(value: object, now: int) -> int:
    """`run_after` as epoch ms: now + a timedelta, or an aware datetime (naive is refused)."""
    if value is None:
        return now
    if isinstance(value, timedelta):
        return now + round(value.total_seconds() * 1000)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidOptionError(
                f"run_after {value.isoformat()} is a naive datetime (no time zone), which "
                "could mean any zone; pass an aware datetime such as "
                "datetime.now(UTC) + timedelta(minutes=5), or a timedelta"
            )
        return to_ms(value)
    raise InvalidOptionError(
        f"run_after must be a datetime (with a time zone) or a timedelta, got "
        f"{type(value).__name__} {value!r}"
    )


def _warn_unset(names: list[str]) -> None:
    for name in names:
        warnings.warn(
            f"reply_to uses ${name}, which is not set in this process; it is read where the "
            "reply is delivered, so the engine's environment must set it",
            JobsWarning,
            stacklevel=5,
        )
