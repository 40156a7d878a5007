"""Pure rules of retention: which finished jobs are old enough to remove."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from .clock import to_ms
from .errors import InvalidOptionError
from .records import TERMINAL_STATES, JobState
from .settings import Settings

KEPT_BY = {
    JobState.COMPLETED: "keep_completed",
    JobState.FAILED: "keep_failed",
    JobState.CANCELLED: "keep_failed",
}
"""The setting that keeps each terminal state (cancelled jobs are kept like failed ones)."""


def retention_limits(settings: Settings, now: int) -> dict[JobState, int]:
    """For each terminal state with a retention setting, the finish time before which its
    jobs go (epoch ms). Empty when every state is kept for ever."""
    limits: dict[JobState, int] = {}
    for state, name in KEPT_BY.items():
        keep: timedelta | None = getattr(settings, name)
        if keep is not None:
            limits[state] = now - round(keep.total_seconds() * 1000)
    return limits


def cutoff(older_than: object, now: int) -> int:
    """`purge(older_than=...)`: an age (timedelta) or an aware datetime, as epoch ms."""
    if isinstance(older_than, timedelta):
        if older_than < timedelta(0):
            raise InvalidOptionError(f"older_than must not be negative, got {older_than}")
        return now - round(older_than.total_seconds() * 1000)
    if isinstance(older_than, datetime):
        if older_than.tzinfo is None or older_than.utcoffset() is None:
            raise InvalidOptionError(
                f"older_than {older_than.isoformat()} is a naive datetime (no time zone); "
                "pass an aware one or a timedelta"
            )
        return to_ms(older_than)
    raise InvalidOptionError(
        f"older_than must be a timedelta or an aware datetime, got "
        f"{type(older_than).__name__} {older_than!r}"
    )


def purge_states(state: JobState | str | Iterable[JobState | str] | None) -> frozenset[JobState]:
    """`purge(state=...)`: one terminal state, several, or None for all three."""
    if state is None:
        return TERMINAL_STATES
    given = [state] if isinstance(state, str) else list(state)
    found: set[JobState] = set()
    for item in given:
        try:
            value = JobState(item)
        except ValueError:
            value = None
        if value not in TERMINAL_STATES:
            known = ", ".join(sorted(s.value for s in TERMINAL_STATES))
            raise InvalidOptionError(f"purge state must be one of {known}, got {item!r}")
        assert value is not None
        found.add(value)
    return frozenset(found)
