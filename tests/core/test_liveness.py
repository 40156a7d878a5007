"""Engine liveness rules as tables: the state a heartbeat row means, and the same-host
process check."""

from __future__ import annotations

import dataclasses

import pytest

from jobs_core import EngineInfo, EngineState
from jobs_core.liveness import checked_on_this_host, engine_state

# Heartbeat at 10 s with a 15 s lease: the lease runs to 25 s, stale after 17.5 s.
ROW = {"stopped_at": None, "lost_reason": None, "heartbeat_at": 10_000, "lease_expires_at": 25_000}


@pytest.mark.parametrize(
    ("changes", "now", "state", "reason"),
    [
        ({}, 12_000, EngineState.ALIVE, ""),
        ({}, 17_500, EngineState.ALIVE, ""),
        ({}, 17_501, EngineState.STALE, "no heartbeat for 7.5s"),
        ({}, 25_000, EngineState.STALE, "no heartbeat for 15.0s"),
        ({}, 25_001, EngineState.DEAD, "its lease lapsed 0.0s ago"),
        ({}, 31_000, EngineState.DEAD, "its lease lapsed 6.0s ago"),
        ({"stopped_at": 11_000}, 12_000, EngineState.STOPPED, "stopped cleanly"),
        ({"stopped_at": 11_000, "lost_reason": "its process 7 on h is gone"}, 12_000,
         EngineState.DEAD, "its process 7 on h is gone"),
    ],
)  # fmt: skip
def test_engine_state_from_its_row(
    changes: dict[str, object], now: int, state: EngineState, reason: str
) -> None:
    row = {**ROW, **changes}
    assert engine_state(**row, now=now) == (state, reason)  # type: ignore[arg-type]


def info(**changes: object) -> EngineInfo:
    base = EngineInfo(
        id="h:7:x", host="h", pid=7, started_at=0, heartbeat_at=0, lease_expires_at=1,
        workers=[], commands=[], concurrency=1, running=0, processed=0, failed=0, alive=True,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("engine", "pid_exists", "state"),
    [
        (info(), False, EngineState.DEAD),
        (info(), True, EngineState.ALIVE),
        (info(state=EngineState.STALE), False, EngineState.DEAD),
        (info(host="other"), False, EngineState.ALIVE),  # another host: only its lease tells
        (info(alive=False), False, EngineState.STOPPED),  # stays stopped, not "dead"
    ],
)
def test_same_host_engine_without_its_process_reads_dead(
    engine: EngineInfo, pid_exists: bool, state: EngineState
) -> None:
    [checked] = checked_on_this_host([engine], host="h", alive=lambda pid: pid_exists)
    assert checked.state is state
    assert checked.alive is (state in (EngineState.ALIVE, EngineState.STALE))
    if state is EngineState.DEAD:
        assert checked.reason == "its process 7 on h is gone"


def test_engine_built_with_alive_false_reads_stopped() -> None:
    assert info(alive=False).state is EngineState.STOPPED
    assert info(alive=False, state=EngineState.DEAD).state is EngineState.DEAD
