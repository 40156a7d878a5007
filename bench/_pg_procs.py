"""The CPU a local PostgreSQL server has used, backends that have exited included.

A benchmark's connections come and go during a run (PgQueuer's producer closes its own before
the consumer ends), so summing the live backends at the end misses some. The postmaster reaps
every backend it starts, and the kernel adds a reaped child's CPU to the parent's
`cutime`/`cstime`: the server's CPU so far is the postmaster's own and its reaped children's,
plus every live child's.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from _common import TICKS


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


async def postmaster_pid(conn: Any) -> int:
    """The pid of the server's postmaster (the parent of this connection's backend)."""
    backend = await conn.fetchval("SELECT pg_backend_pid()")
    return int(_stat(backend)[1])


def server_cpu(postmaster: int) -> float:
    """Seconds of CPU the server has used so far (it must run on this machine)."""
    fields = _stat(postmaster)
    ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    with open(f"/proc/{postmaster}/task/{postmaster}/children") as children:
        pids = [int(pid) for pid in children.read().split()]
    for pid in pids:
        with suppress(FileNotFoundError):  # reaped meanwhile: in cutime at the next read
            ticks += sum(int(f) for f in _stat(pid)[11:13])
    return ticks / TICKS
