"""Whether engines serve the store (their `EngineInfo.state`: alive, stale, dead, stopped),
and the running jobs orphaned by engines that are gone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from jobs_core import LIVE_ENGINE_STATES, EngineInfo, EngineState, RunningJob
from jobs_tui.formatting import duration


def is_live(engine: EngineInfo) -> bool:
    """Alive with heartbeats on time (a stale engine still owns its jobs, but is late)."""
    return engine.state is EngineState.ALIVE


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    """What the app knows about the engines serving its store."""

    known: bool = False
    """False until the first check: nothing is flagged before then."""
    live: frozenset[str] = field(default_factory=frozenset)
    """Ids of alive engines."""
    serving: frozenset[str] = field(default_factory=frozenset)
    """Ids of engines that still own their jobs: alive or stale."""
    alert: str = ""
    """One line for the alert banner; empty when all is well."""

    def orphaned(self, owner: str | None) -> bool:
        """Whether a running job of `owner` has lost its engine (dead, stopped, unknown)."""
        return self.known and (owner is None or owner not in self.serving)


def check(engines: Sequence[EngineInfo], running: Sequence[RunningJob], now: int) -> Health:
    """The health of a store from its engines (states as of `now`) and the jobs they run."""
    live = frozenset(e.id for e in engines if is_live(e))
    serving = frozenset(e.id for e in engines if e.state in LIVE_ENGINE_STATES)
    owners = {e.id: e for e in engines}
    orphans = [job for job in running if job.owner not in serving]
    parts: list[str] = []
    if not serving:
        parts.append("No engine is running on this store: queued jobs wait until one starts")
    orphan_owners = {j.owner for j in orphans}
    late = [e for e in engines if e.id in orphan_owners]
    late += [e for e in engines if e.state is EngineState.STALE and e not in late]
    for engine in late[:2]:
        parts.append(f"engine {engine.id} is {engine.state} ({engine_reason(engine, now)})")
    if orphans:
        ids = ", ".join(f"#{j.id}" for j in orphans[:5]) + ("…" if len(orphans) > 5 else "")
        gone = [j.owner for j in orphans if j.owner not in owners]
        note = " (engine unknown)" if gone else ""
        parts.append(f"{len(orphans)} running job{'s' if len(orphans) != 1 else ''} "
                     f"orphaned{note}: {ids}")  # fmt: skip
    return Health(known=True, live=live, serving=serving, alert="; ".join(parts))


def engine_reason(engine: EngineInfo, now: int) -> str:
    """Why the engine is stale, dead or stopped, with its last heartbeat."""
    heartbeat = f"last heartbeat {duration(now - engine.heartbeat_at)} ago"
    return f"{engine.reason}; {heartbeat}" if engine.reason else heartbeat
