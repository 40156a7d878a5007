"""Records of flow control: rate limits, a queue's settings and figures, why a job waits."""

from __future__ import annotations

import math
import re
from dataclasses import KW_ONLY, dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Literal

from .errors import InvalidOptionError
from .limits import check_at_most
from .records import JobState

DEFAULT_QUEUE = "default"
"""The queue of every job that names none (and whose command names none)."""

OnConflict = Literal["raise", "return_existing", "replace"]
"""What an enqueue does when its `ref_id` is taken: raise `DuplicateRefIdError` (the
default), return the job holding it, or replace that job's request and `run_after` while it
is still queued."""

ON_CONFLICT_CHOICES: tuple[OnConflict, ...] = ("raise", "return_existing", "replace")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `limit` starts of a queue's jobs in any window of `per`, across all engines:
    `RateLimit(100, per=timedelta(minutes=1))`."""

    limit: int
    """Starts allowed per window (retries count: each attempt is a start)."""
    _: KW_ONLY
    per: timedelta
    """The window, at least a millisecond."""

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise InvalidOptionError(f"RateLimit: limit must be an int >= 1, got {self.limit!r}")
        check_at_most(self.limit, "RateLimit: limit")
        if not isinstance(self.per, timedelta) or self.per < timedelta(milliseconds=1):
            raise InvalidOptionError(
                f"RateLimit: per must be a timedelta of at least 1 ms, got {self.per!r}"
            )

    @property
    def per_ms(self) -> int:
        return round(self.per.total_seconds() * 1000)

    def __str__(self) -> str:
        return f"{self.limit}/{format_window(self.per_ms)}"

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """The rate limit written `N/WINDOW`, as `str` writes it and operators type it:
        `100/1m`, `10/s` (a window of one unit), `5/500ms`, `1000/1.5h`; units ms, s, m, h, d.
        Raises InvalidOptionError naming the text otherwise."""
        found = _RATE_TEXT.match(text.strip())
        if found is None or int(found[1]) < 1:
            raise InvalidOptionError(
                f"expected N/WINDOW such as 100/1m, 10/s or 5/500ms; got '{text}'"
            )
        per_ms = float(found[2] or 1) * _UNIT_MS[found[3]]
        if per_ms < 1:
            raise InvalidOptionError(f"the window must be at least 1 ms, got '{text}'")
        try:
            per = timedelta(milliseconds=per_ms)
        except OverflowError:  # past timedelta's 999,999,999 days
            raise InvalidOptionError(f"the window is too long, got '{text}'") from None
        return cls(int(found[1]), per=per)


_RATE_TEXT = re.compile(r"^(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*(ms|s|m|h|d)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def format_window(ms: int) -> str:
    """A window in the shortest unit that states it exactly: `1s`, `5m`, `250ms`, `1h`."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def rate_limit_of(limit: int | None, per_ms: int | None) -> RateLimit | None:
    """The rate limit stored as (limit, window in ms), or None."""
    if limit is None or per_ms is None:
        return None
    return RateLimit(limit, per=timedelta(milliseconds=per_ms))


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSettings:
    """What an operator set on a queue (`jobs.set_queue`); a queue never set has none."""

    name: str
    concurrency: int | None = None
    """Most of its jobs running at once across every engine; None for no limit."""
    paused: bool = False
    """A paused queue starts nothing new; running jobs finish."""
    rate_limit: RateLimit | None = None
    """Most starts per window across every engine; None for no limit."""
    updated_at: int = 0
    """When it was last changed (epoch ms); 0 for a queue never set."""

    @property
    def limited(self) -> bool:
        """Whether anything holds its jobs back."""
        return self.paused or self.concurrency is not None or self.rate_limit is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueInfo:
    """A queue as `jobs.queues()` shows it: its settings and live figures."""

    name: str
    concurrency: int | None
    """Most jobs running at once store-wide (1 for a named worker); None for no limit."""
    paused: bool
    rate_limit: RateLimit | None
    running: int
    """Jobs started and not finished."""
    queued: int
    """Jobs waiting: due or not, blocked or not."""
    recent_starts: int | None
    """Starts within the rate limit's window now (the current rate); None without a limit."""
    finished_15m: int
    """Jobs of the queue that completed in the last 15 minutes."""
    failed_15m: int
    """Jobs of the queue that failed or were cancelled in the last 15 minutes."""
    worker: bool = False
    """A named worker's queue: one job at a time, in order, whatever `concurrency` says."""


class WaitReason(StrEnum):
    """Why a queued job is not running; a job may have several at once."""

    EXPIRED = "expired"
    """Its `expires_at` passed; it never starts and is cancelled at the next sweep."""
    DEPENDENCY = "dependency"
    """The job it depends on has not completed."""
    RETRY = "retry"
    """An attempt failed; the next one waits for its backoff."""
    SCHEDULED = "scheduled"
    """Its `run_after` is later."""
    PAUSED = "paused"
    """Its queue is paused."""
    RATE_LIMITED = "rate_limited"
    """Its queue used up its rate limit's window."""
    QUEUE_FULL = "queue_full"
    """Its queue runs as many jobs as its concurrency allows."""
    CONCURRENCY_KEY = "concurrency_key"
    """As many jobs with its concurrency key run as its limit allows."""
    WORKER_BUSY = "worker_busy"
    """Its named worker runs another job (one at a time)."""
    READY = "ready"
    """Nothing holds it: the next claim of an engine running its command starts it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitInfo:
    """Why a job is not running (`jobs.why_waiting`), in words and as reasons."""

    job_id: int
    state: JobState
    reasons: list[WaitReason] = field(default_factory=list)
    """Every reason that holds now, the one to act on first; empty unless queued."""
    text: str = ""
    """The reasons in words, e.g. "queue 'email' is paused; expires at 2026-11-02 09:10:00Z"."""
    until: int | None = None
    """When the time-bound reasons end (a retry's backoff, `run_after`, a rate window), if
    any (epoch ms)."""
    expires_at: int | None = None
    """When the job expires unless started (epoch ms), if ever."""
    blocked_by: int | None = None
    """The job it waits for, when a dependency holds it."""


def check_queue_name(value: object, name: str = "queue") -> str:
    """A queue name: a non-empty string without surrounding spaces, at most 200 characters."""
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise InvalidOptionError(
            f"{name} must be a non-empty name without surrounding spaces, got {value!r}"
        )
    if len(value) > 200:
        raise InvalidOptionError(f"{name} must be at most 200 characters, got {len(value)}")
    return value


def check_concurrency(value: object, name: str = "concurrency") -> int | None:
    """A concurrency limit: an int of 1 or more, or None for no limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidOptionError(f"{name} must be an int >= 1 (or None: no limit), got {value!r}")
    check_at_most(value, name)
    return value


def check_priority(value: object, name: str = "priority") -> int:
    """A priority: an int (higher runs first), within ±1,000,000."""
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 1_000_000:
        raise InvalidOptionError(f"{name} must be an int from -1000000 to 1000000, got {value!r}")
    return value


def check_duration(value: object, name: str) -> timedelta:
    """A positive timedelta (`expires_in`)."""
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise InvalidOptionError(f"{name} must be a positive timedelta, got {value!r}")
    if not math.isfinite(value.total_seconds()):
        raise InvalidOptionError(f"{name} must be finite, got {value!r}")
    return value
