"""Clocks: the only reader of wall time is `SystemClock`; tests inject a `ManualClock`."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Protocol

from .errors import InvalidOptionError

NEVER = -math.inf
"""A `time.monotonic()` stamp for "never happened": any interval since it is due. Not 0.0,
which is the boot: on a machine up for less than an interval, a pass due "at once" at
start would wait for the rest of that interval."""


class Clock(Protocol):
    """A source of the current time as UTC epoch milliseconds."""

    def now_ms(self) -> int:
        """The current time in UTC epoch milliseconds."""
        ...


class SystemClock:
    """Wall time from the operating system."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that only moves when told to; for tests and deterministic screenshots."""

    def __init__(self, start: datetime | int) -> None:
        self._now = start if isinstance(start, int) else to_ms(start)

    def now_ms(self) -> int:
        return self._now

    def set(self, when: datetime | int) -> None:
        """Jump to `when` (a datetime or epoch milliseconds)."""
        self._now = when if isinstance(when, int) else to_ms(when)

    def advance(self, seconds: float) -> None:
        """Move forward by `seconds`."""
        self._now += round(seconds * 1000)


def to_ms(when: datetime) -> int:
    """Epoch milliseconds of an aware datetime; a naive one (no time zone) is refused with
    InvalidOptionError rather than guessed."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidOptionError(
            f"{when.isoformat()} is a naive datetime (no time zone), which could mean any "
            "zone; pass an aware datetime such as datetime.now(UTC)"
        )
    return round(when.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
