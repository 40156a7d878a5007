"""Whether an engine is alive: pure rules over its heartbeat row, and the same-host
process check that tells a killed engine from a slow one without waiting for its lease."""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Callable

from .records import LIVE_ENGINE_STATES, EngineInfo, EngineState


def engine_state(
    *,
    stopped_at: int | None,
    lost_reason: str | None,
    heartbeat_at: int,
    lease_expires_at: int,
    now: int,
) -> tuple[EngineState, str]:
    """An engine's state and the reason in words, from its row as of `now`.

    Stale means more than half the lease passed without a heartbeat (an engine renews it
    several times per lease), so an operator sees trouble before the lease lapses.
    """
    if lost_reason:
        return EngineState.DEAD, lost_reason
    if stopped_at is not None:
        return EngineState.STOPPED, "stopped cleanly"
    if lease_expires_at < now:
        return EngineState.DEAD, f"its lease lapsed {_secs(now - lease_expires_at)} ago"
    silent = now - heartbeat_at
    if silent > (lease_expires_at - heartbeat_at) / 2:
        return EngineState.STALE, f"no heartbeat for {_secs(silent)}"
    return EngineState.ALIVE, ""


def process_gone_reason(pid: int, host: str) -> str:
    """The reason recorded for an engine whose process is absent from its host."""
    return f"its process {pid} on {host} is gone"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (a reused id reads as alive,
    which only delays the verdict until the lease lapses)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


HOSTNAME_ENV = "JOBS_HOSTNAME"
"""Overrides the host name an engine registers with (e.g. one name per container); engines
on other hosts are found dead by their lease, engines on this host by their pid."""


def this_host() -> str:
    """The host name engines record (`$JOBS_HOSTNAME`, else the machine's); only engines of
    this host can be judged by pid."""
    return os.environ.get(HOSTNAME_ENV) or socket.gethostname()


def checked_on_this_host(
    engines: list[EngineInfo],
    *,
    host: str | None = None,
    alive: Callable[[int], bool] = pid_alive,
) -> list[EngineInfo]:
    """`engines` with those of this host whose process is gone shown dead at once, rather
    than alive until their lease lapses."""
    host = host or this_host()
    own = os.getpid()
    return [
        dataclasses.replace(
            e, alive=False, state=EngineState.DEAD, reason=process_gone_reason(e.pid, e.host)
        )
        if e.state in LIVE_ENGINE_STATES and e.host == host and e.pid != own and not alive(e.pid)
        else e
        for e in engines
    ]


def _secs(ms: int) -> str:
    return f"{ms / 1000:.1f}s"
