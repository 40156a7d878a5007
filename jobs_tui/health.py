"""Whether engines serve the store: live, stale or gone, and the jobs orphaned by dead ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from jobs_core import EngineInfo, RunningJob
from jobs_tui.formatting import duration

STALE_MS = 5_000
"""An engine whose heartbeat is older than this (two missed beats at the default 2 s) is
not counted as live, even while its lease still runs."""


def is_live(engine: EngineInfo, now: int) -> bool:
    """Alive by its lease and heard from within `STALE_MS`."""
    return engine.alive and now - engine.heartbeat_at <= STALE_MS


def engine_state(engine: EngineInfo, now: int) -> str:
    """`live`, `stale` (lease running, heartbeat late) or `stopped`/`dead`."""
    if is_live(engine, now):
        return "live"
    if engine.alive:
        return "stale"
    return "gone"


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    """What the app knows about the engines serving its store."""

    known: bool = False
    """False until the first check: nothing is flagged before then."""
    live: frozenset[str] = field(default_factory=frozenset)
    """Ids of live engines."""
    alert: str = ""
    """One line for the alert banner; empty when all is well."""

    def orphaned(self, owner: str | None) -> bool:
        """Whether a running job of `owner` has lost its engine."""
        return self.known and (owner is None or owner not in self.live)


def check(engines: Sequence[EngineInfo], running: Sequence[RunningJob], now: int) -> Health:
    """The health of a store from its engines and the jobs they run."""
    live = frozenset(e.id for e in engines if is_live(e, now))
    owners = {e.id: e for e in engines}
    orphans = [job for job in running if job.owner not in live]
    parts: list[str] = []
    if not live:
        parts.append("No engine is running on this store: queued jobs wait until one starts")
    late = [e for e in engines if not is_live(e, now) and e.id in {j.owner for j in orphans}]
    late += [e for e in engines if engine_state(e, now) == "stale" and e not in late]
    for engine in late[:2]:
        parts.append(
            f"engine {engine.id}: last heartbeat {duration(now - engine.heartbeat_at)} ago"
        )
    if orphans:
        ids = ", ".join(f"#{j.id}" for j in orphans[:5]) + ("…" if len(orphans) > 5 else "")
        gone = [j.owner for j in orphans if j.owner not in owners]
        note = " (engine unknown)" if gone else ""
        parts.append(f"{len(orphans)} running job{'s' if len(orphans) != 1 else ''} "
                     f"orphaned{note}: {ids}")  # fmt: skip
    return Health(known=True, live=live, alert="; ".join(parts))
