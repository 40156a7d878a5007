"""Schedules of recurring tasks and the pure rules of when they run: next slot and missed runs."""

from __future__ import annotations

import itertools
import math
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .cron_fields import CronFields, cron_slots, describe_cron, parse_cron
from .errors import InvalidOptionError, InvalidScheduleError

DEFAULT_MAX_CATCH_UP = 100
"""Most missed slots `CATCH_UP` runs after an outage; older ones are dropped."""
DEFAULT_SKIP_GRACE_MS = 60_000
"""How late a slot may be seen and still count as on time under `SKIP`."""
MISSED_COUNT_LIMIT = 10_000
"""Cron slots are counted one by one; past this many, `DuePlan.missed` is a lower bound."""

MACROS = {
    "@every_second": "* * * * * *",
    "@every_minute": "* * * * *",
    "@minutely": "* * * * *",
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
"""Shortcuts `Schedule.parse` and `Schedule.cron` accept, and the cron each stands for."""

_UNIT_MS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1000),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60_000),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3_600_000),
    **dict.fromkeys(("d", "day", "days"), 86_400_000),
}
_EVERY = re.compile(r"@?every\s*(\d+(?:\.\d+)?)\s*([a-z]+)")


class ScheduleKind(StrEnum):
    """Whether a schedule follows a cron expression or a fixed interval."""

    CRON = "cron"
    INTERVAL = "interval"


class MissedRunPolicy(StrEnum):
    """What to do with slots that passed while no engine was running."""

    RUN_ONCE = "run_once"
    """Run once now for the latest missed slot; drop the others. The default."""
    SKIP = "skip"
    """Run nothing missed: only a slot at most `grace_ms` late still runs."""
    CATCH_UP = "catch_up"
    """Run every missed slot, oldest first, at most `max_catch_up` (the newest ones)."""


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Schedule:
    """When a recurring task runs: a cron expression in a time zone, or a fixed interval.

    Build one with `cron`, `interval`, a shortcut (`daily()`) or `parse`; construction
    validates, so a `Schedule` that exists can always be evaluated.
    """

    kind: ScheduleKind
    """Cron or interval."""
    expr: str = ""
    """The cron expression (single-spaced); empty for an interval."""
    tz: str = "UTC"
    """IANA time zone the cron expression is read in; always UTC for an interval."""
    interval_ms: int = 0
    """Milliseconds between runs of an interval schedule; 0 for cron."""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", ScheduleKind(self.kind))
        except ValueError:
            raise InvalidScheduleError(f"unknown schedule kind '{self.kind}'") from None
        if self.kind == ScheduleKind.CRON:
            object.__setattr__(self, "expr", _parsed(self.expr).expr)
            _zone(self.tz)
            if self.interval_ms:
                raise InvalidScheduleError(f"cron '{self.expr}' cannot also have an interval")
        elif self.expr or self.tz != "UTC":
            raise InvalidScheduleError("an interval schedule has no cron expression or time zone")
        elif self.interval_ms < 1:
            raise InvalidScheduleError(f"interval must be positive, got {self.interval_ms} ms")

    @classmethod
    def cron(cls, expr: str, *, tz: str = "UTC") -> Schedule:
        """Run at the times `expr` matches, read in time zone `tz`.

        Five fields (`min hour dom mon dow`) or six with seconds FIRST
        (`sec min hour dom mon dow`, as Quartz and Cronos write it; croniter's own
        seconds-last form is not accepted). A shortcut such as `@daily` is accepted too.
        When both day-of-month and day-of-week are restricted, a day matching either runs
        (Vixie cron). See `next_run_after` for daylight-saving behaviour.
        """
        return cls(kind=ScheduleKind.CRON, expr=MACROS.get(expr.strip().lower(), expr), tz=tz)

    @classmethod
    def interval(cls, seconds: float | timedelta) -> Schedule:
        """Run every `seconds` (at millisecond precision), measured from the previous run."""
        if isinstance(seconds, timedelta):
            ms = seconds // timedelta(milliseconds=1)
        elif math.isfinite(seconds):
            ms = round(seconds * 1000)
        else:
            ms = 0
        if ms < 1:
            raise InvalidScheduleError(f"interval must be positive, got {seconds!r} seconds")
        return cls(kind=ScheduleKind.INTERVAL, interval_ms=ms)

    @classmethod
    def every_minute(cls, *, tz: str = "UTC") -> Schedule:
        """`* * * * *`"""
        return cls.cron("* * * * *", tz=tz)

    @classmethod
    def hourly(cls, *, tz: str = "UTC") -> Schedule:
        """`0 * * * *`"""
        return cls.cron("0 * * * *", tz=tz)

    @classmethod
    def daily(cls, *, tz: str = "UTC") -> Schedule:
        """`0 0 * * *`: midnight in `tz`."""
        return cls.cron("0 0 * * *", tz=tz)

    @classmethod
    def weekly(cls, *, tz: str = "UTC") -> Schedule:
        """`0 0 * * 0`: Sunday midnight in `tz`."""
        return cls.cron("0 0 * * 0", tz=tz)

    @classmethod
    def monthly(cls, *, tz: str = "UTC") -> Schedule:
        """`0 0 1 * *`: midnight on the first of the month in `tz`."""
        return cls.cron("0 0 1 * *", tz=tz)

    @classmethod
    def parse(cls, text: str, *, tz: str = "UTC") -> Schedule:
        """A schedule from what a user types (the CLI's `--schedule`).

        Accepts a shortcut (`@daily`, see `MACROS`), an interval `every 30s` / `every 5m` /
        `every 2h` / `every 1d` (units may be spelled out: `every 5 minutes`), the stored
        form (`cron:...`, `interval:...`), or a cron expression read in `tz`.
        """
        words = " ".join(text.split())
        lowered = words.lower()
        if words.startswith(("cron:", "interval:")):
            return cls.from_text(words)
        if lowered.startswith("@every ") or lowered.startswith("every"):
            return cls(kind=ScheduleKind.INTERVAL, interval_ms=_every_ms(words))
        if lowered.startswith("@") and lowered not in MACROS:
            known = ", ".join(MACROS)
            raise InvalidScheduleError(f"unknown schedule shortcut '{words}'; known: {known}")
        return cls.cron(words, tz=tz)

    def to_text(self) -> str:
        """The stored form: `cron:<expr>@<tz>` or `interval:<seconds>` (e.g. `interval:1.5`)."""
        if self.kind == ScheduleKind.CRON:
            return f"cron:{self.expr}@{self.tz}"
        return f"interval:{_seconds_text(self.interval_ms)}"

    @classmethod
    def from_text(cls, text: str) -> Schedule:
        """The schedule `to_text` wrote (a cron without `@<tz>` is read as UTC)."""
        kind, colon, body = text.partition(":")
        if colon and kind == ScheduleKind.CRON:
            expr, at, tz = body.rpartition("@")
            return cls(kind=ScheduleKind.CRON, expr=expr, tz=tz) if at else cls.cron(body)
        if colon and kind == ScheduleKind.INTERVAL:
            return cls(kind=ScheduleKind.INTERVAL, interval_ms=_text_ms(body, text))
        raise InvalidScheduleError(
            f"stored schedule '{text}' is neither 'cron:<expr>@<tz>' nor 'interval:<seconds>'"
        )

    def describe(self) -> str:
        """The schedule in words: "Every 5 minutes", "At 02:00 (Europe/Paris)", "At 09:00,
        Monday through Friday"; cron expressions are described by cron-descriptor."""
        if self.kind == ScheduleKind.INTERVAL:
            return _interval_words(self.interval_ms)
        words = describe_cron(_parsed(self.expr))
        return words if self.tz == "UTC" else f"{words} ({self.tz})"

    def __str__(self) -> str:
        return self.to_text()


@dataclass(frozen=True, slots=True, kw_only=True)
class DuePlan:
    """What `due_runs` decided for one scheduled task at one instant."""

    run_slots: tuple[int, ...]
    """Scheduled times (epoch ms) to enqueue now, oldest first; one job each."""
    next_run_at: int
    """The next slot, strictly after now (epoch ms); store it with compare-and-set."""
    missed: int
    """Due slots not run (for logging); a lower bound past `MISSED_COUNT_LIMIT` cron slots."""


def next_run_after(schedule: Schedule, after_ms: int) -> int:
    """The first run time strictly after `after_ms` (UTC epoch ms).

    An interval runs `interval_ms` after `after_ms`. A cron expression is evaluated on the
    wall clock of its time zone, with daylight-saving transitions handled as Cronos does
    (and much as Vixie cron does): a wall time skipped when clocks go forward runs once,
    at the instant the gap ends; a wall time that occurs twice when clocks go back runs
    once, at its first occurrence, unless the expression is interval-based (`*`, a range or
    a step in the second, minute or hour field), which keeps its pace through the repeated
    hour.
    """
    if schedule.kind == ScheduleKind.INTERVAL:
        return after_ms + schedule.interval_ms
    return next(_cron_slots(schedule, after_ms))


def due_runs(
    schedule: Schedule,
    *,
    next_run_at_ms: int | None,
    last_run_at_ms: int | None,
    now_ms: int,
    policy: MissedRunPolicy = MissedRunPolicy.RUN_ONCE,
    max_catch_up: int = DEFAULT_MAX_CATCH_UP,
    grace_ms: int = DEFAULT_SKIP_GRACE_MS,
) -> DuePlan:
    """What to enqueue now for a task whose stored next run is `next_run_at_ms`.

    A slot at or before `now_ms` is due. Without a stored next run the first slot follows
    `last_run_at_ms`; a task that never ran starts at the next cron slot after now, or
    right now for an interval (as ServiceStack does). An interval measures from the run:
    after running now, the next slot is `now + interval`; when a run was skipped, it stays
    on the old grid. `policy` says which due slots run; see `MissedRunPolicy`.
    """
    if max_catch_up < 1:
        raise InvalidOptionError(f"max_catch_up must be at least 1, got {max_catch_up}")
    if grace_ms < 0:
        raise InvalidOptionError(f"grace_ms must not be negative, got {grace_ms}")
    first = _first_slot(schedule, next_run_at_ms, last_run_at_ms, now_ms)
    if first > now_ms:
        return DuePlan(run_slots=(), next_run_at=first, missed=0)
    keep = max_catch_up if policy == MissedRunPolicy.CATCH_UP else 1
    count, recent = _due_slots(schedule, first, now_ms, keep)
    latest = recent[-1]
    if policy == MissedRunPolicy.CATCH_UP:
        run = recent
    elif policy == MissedRunPolicy.SKIP and now_ms - latest > grace_ms:
        run = ()
    else:
        run = (latest,)
    if schedule.kind == ScheduleKind.CRON:
        following = next_run_after(schedule, now_ms)
    else:
        following = (now_ms if run else latest) + schedule.interval_ms
    return DuePlan(run_slots=run, next_run_at=following, missed=count - len(run))


def _first_slot(
    schedule: Schedule, next_run_at_ms: int | None, last_run_at_ms: int | None, now_ms: int
) -> int:
    if next_run_at_ms is not None:
        return next_run_at_ms
    if last_run_at_ms is not None:
        return next_run_after(schedule, last_run_at_ms)
    if schedule.kind == ScheduleKind.INTERVAL:
        return now_ms
    return next_run_after(schedule, now_ms)


def _due_slots(
    schedule: Schedule, first: int, now_ms: int, keep: int
) -> tuple[int, tuple[int, ...]]:
    """How many slots lie in [first, now] and the latest `keep` of them, oldest first."""
    if schedule.kind == ScheduleKind.INTERVAL:
        step = schedule.interval_ms
        count = (now_ms - first) // step + 1
        latest = first + (count - 1) * step
        return count, tuple(latest - k * step for k in reversed(range(min(count, keep))))
    recent: deque[int] = deque(maxlen=keep)
    count = 0
    for slot in itertools.chain([first], _cron_slots(schedule, first)):
        if slot > now_ms:
            break
        count += 1
        recent.append(slot)
        if count == MISSED_COUNT_LIMIT:
            later = _latest_cron_slots(schedule, slot, now_ms, keep)
            recent.extend(later)
            count += len(later)
            break
    return count, tuple(recent)


def _latest_cron_slots(schedule: Schedule, after_ms: int, now_ms: int, keep: int) -> list[int]:
    """The latest `keep` slots in (after, now], found by widening a window back from now."""
    window = 60_000
    while True:
        start = max(after_ms, now_ms - window)
        found = list(itertools.takewhile(lambda s: s <= now_ms, _cron_slots(schedule, start)))
        if len(found) >= keep or start == after_ms:
            return found[-keep:]
        window *= 8


# --- cron on a wall clock --------------------------------------------------------------


def _cron_slots(schedule: Schedule, after_ms: int) -> Iterator[int]:
    return cron_slots(_parsed(schedule.expr), _zone(schedule.tz), after_ms)


@lru_cache(maxsize=512)
def _parsed(expr: str) -> CronFields:
    return parse_cron(expr)


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):  # TypeError: not a str
        raise InvalidScheduleError(f"unknown time zone '{tz}'") from None


# --- text ------------------------------------------------------------------------------


def _seconds_text(ms: int) -> str:
    whole, rest = divmod(ms, 1000)
    return f"{whole}" if not rest else f"{whole}.{rest:03d}".rstrip("0")


def _text_ms(seconds: str, text: str) -> int:
    try:
        return _whole_ms(Decimal(seconds) * 1000, text)
    except InvalidOperation:
        return _whole_ms(Decimal(0), text)


def _every_ms(text: str) -> int:
    match = _EVERY.fullmatch(text.lower())
    if match is None or match.group(2) not in _UNIT_MS:
        raise InvalidScheduleError(
            f"invalid interval '{text}': expected 'every <number><unit>' "
            "with unit s, m, h or d (e.g. 'every 5m')"
        )
    return _whole_ms(Decimal(match.group(1)) * _UNIT_MS[match.group(2)], text)


def _whole_ms(ms: Decimal, text: str) -> int:
    if not ms.is_finite() or ms < 1 or ms != ms.to_integral_value():
        raise InvalidScheduleError(
            f"invalid interval '{text}': expected a positive whole number of milliseconds"
        )
    return int(ms)


def _interval_words(ms: int) -> str:
    for unit_ms, unit in ((86_400_000, "day"), (3_600_000, "hour"), (60_000, "minute")):
        if ms % unit_ms == 0:
            count = ms // unit_ms
            return f"Every {unit}" if count == 1 else f"Every {count} {unit}s"
    return "Every second" if ms == 1000 else f"Every {_seconds_text(ms)} seconds"
