"""The change token on PostgreSQL: a counter bumped by LISTEN/NOTIFY, with a polling fallback.

The listening connection is used for nothing else: a peer that ran its queries on the
connection it listened on stalled, because waiting for notifications held it. Besides
notifications, the token moves when the listener (re)connects, since anything may have
happened while it was away, and when a cheap periodic probe sees that some transaction
committed on the server (the snapshot's xmax moved): a notification can then never be
missed for longer than one probe interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from jobs_core.store.url import StoreUrl

from .connection import CONNECTION_LOST, connect

log = logging.getLogger("jobs.store")

PROBE_SECS = 1.0
"""How often the listener checks its connection and the server's commit horizon."""
RECONNECT_MIN_SECS = 0.05
RECONNECT_MAX_SECS = 2.0
PROBE = "SELECT pg_snapshot_xmax(pg_current_snapshot())::text"
NOT_NAMED = frozenset({"enqueue:default", "activity"})
"""Payloads of changes that never make a named worker's job ready (`queue.enqueued`, logs
and progress): they leave `named_token` alone."""
ANNOUNCED = "enqueue:id:"
"""The payload of an enqueue of one default-worker job that is ready and due at once, no
key (`queue.INSERT_ONE`), followed by `<id>:<command>`: such an enqueue makes no other job
ready, so it leaves `other_token` (and `named_token`) alone and adds the job to `announced`
(`default_idle.py` claims it by id)."""
MAX_ANNOUNCED = 64
"""Ids kept in `announced`; one more clears them and counts as any other change (an engine
that does not claim, or a burst: the next claim looks at the whole table)."""


class ChangeListener:
    """Counts changes other connections announce on `channel`; started on first use."""

    def __init__(self, url: StoreUrl, channel: str, own_pids: set[int]) -> None:
        self._url = url
        self._channel = channel
        self._own_pids = own_pids
        """Backends of this store's own pool: their notifications are not changes by others."""
        self.token = 0
        self.named_token = 0
        """`token`, less the notifications whose payload is in `NOT_NAMED` or announces an
        id."""
        self.other_token = 0
        """`token`, less the notifications that announce an id (`ANNOUNCED`)."""
        self.announced: list[tuple[int, str]] = []
        """(id, command) of jobs announced ready, in arrival order (`default_idle.py` takes
        them out)."""
        self.on_change: Callable[[], None] | None = None
        """Called at each change by another connection (the engine's wake-up)."""
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lost = asyncio.Event()
        self.connected = False
        self._moved: asyncio.Event | None = None

    def _bump(self, *, notified: bool = False, named: bool = True, other: bool = True) -> None:
        self.token += 1
        self.named_token += named
        self.other_token += other
        moved, self._moved = self._moved, None
        if moved is not None:
            moved.set()
        if notified and self.on_change is not None:
            self.on_change()

    async def changed(self, token: int, timeout: float) -> None:
        """Return once the token is no longer `token`, or after `timeout` seconds."""
        if self.token != token:
            return
        if self._moved is None:
            self._moved = asyncio.Event()
        moved = self._moved
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await moved.wait()

    def ensure_started(self) -> None:
        """Start listening from the running loop (no-op outside one or when running)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._task is not None and self._loop is loop and not self._task.done():
            return
        self._loop = loop
        self._lost = asyncio.Event()
        self._task = loop.create_task(self._run(), name=f"jobs-listen-{self._channel}")

    async def _run(self) -> None:
        delay = RECONNECT_MIN_SECS
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the fallback must survive anything the server does
                if self.connected:
                    log.warning("listener on %s lost: %s", self._url.display, error)
                self.connected = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECS)

    async def _listen(self) -> None:
        conn = await connect(self._url)
        self._lost.clear()
        try:
            conn.add_termination_listener(lambda _: self._lost.set())
            await conn.add_listener(self._channel, self._notified)
            self.connected = True
            self._bump()  # whatever happened while we were not listening
            horizon = await conn.fetchval(PROBE)
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(PROBE_SECS):
                        await self._lost.wait()
                if self._lost.is_set():
                    raise ConnectionError("the listening connection closed")
                async with asyncio.timeout(PROBE_SECS * 5):
                    now = await conn.fetchval(PROBE)
                if now != horizon:
                    horizon = now
                    self._bump()
        finally:
            self.connected = False
            with contextlib.suppress(*CONNECTION_LOST, RuntimeError):
                conn.terminate()

    def _notified(
        self, conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy, pid: int, channel: str,
        payload: object,
    ) -> None:  # fmt: skip
        if pid in self._own_pids:
            return
        if isinstance(payload, str) and payload.startswith(ANNOUNCED):
            if len(self.announced) < MAX_ANNOUNCED:
                job_id, _, command = payload[len(ANNOUNCED) :].partition(":")
                self.announced.append((int(job_id), command))
                self._bump(notified=True, named=False, other=False)
                return
            self.announced.clear()  # too many to claim by id: a change like any other
        self._bump(notified=True, named=payload not in NOT_NAMED)

    def terminate(self) -> None:
        """Stop listening now, without waiting (for callers that cannot await)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is None or task.done():
            return
        if self._loop is not asyncio.get_running_loop():
            return  # its loop is gone, and with it the connection
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
