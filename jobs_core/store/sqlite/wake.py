"""Waking engines in other processes when jobs are enqueued (on Linux, with inotify).

Nothing tells an SQLite connection of another process's commit, so engines poll
`data_version` (every millisecond while busy, 20 ms when idle): half a poll interval of
latency, on average, between an enqueue in one process and the claim in another. Here an
enqueue, once its COMMIT returned, writes a byte to `jobs.wake` in the store directory, and
an engine that watches that file with inotify looks for work at once. The byte is written
after the commit, so the engine that wakes sees the jobs; a write nobody watches costs a
`pwrite` (~1 µs). Without inotify (not Linux) engines only poll, as before; a failure to
signal only leaves a wake-up to the next poll, never an error.

Watching the WAL instead (no write by producers) wakes an engine before the commit is
visible: frames are written before the commit makes them part of the database.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import time
from collections.abc import Callable

from jobs_core.clock import NEVER

from .files import PRIVATE_FILE

WAKE_FILE = "jobs.wake"
SIGNAL_GAP_SECS = 0.001
"""Least time between two signals of one producer. Jobs enqueued sooner after a signal wait
for the engine's next poll (it polls every `poll_active_secs`, 1 ms by default, once woken),
as without the signal: one per commit of a busy producer cost it ~5% of an enqueue
(a write, and the engine's wake-ups) for nothing."""
_IN_MODIFY = 0x00000002
_FLAGS = os.O_NONBLOCK | os.O_CLOEXEC
"""`IN_NONBLOCK` and `IN_CLOEXEC` are `O_NONBLOCK` and `O_CLOEXEC` on Linux."""


def _open_wake_file(directory: str) -> int:
    return os.open(os.path.join(directory, WAKE_FILE), os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)


class WakeSignal:
    """The producer's side: `send()` after each commit that enqueued jobs."""

    def __init__(self, directory: str) -> None:
        self._directory = directory
        self._last = NEVER
        self._fd: int | None = None
        self._broken = False

    def send(self) -> None:
        now = time.monotonic()
        if self._broken or now - self._last < SIGNAL_GAP_SECS:
            return
        self._last = now
        try:
            if self._fd is None:
                self._fd = _open_wake_file(self._directory)
            os.pwrite(self._fd, b"\0", 0)
        except OSError:
            self._broken = True  # engines poll instead; the jobs are stored

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class WakeWatch:
    """The engine's side: calls `callback` on the event loop when `jobs.wake` is written."""

    def __init__(self, fd: int, callback: Callable[[], None]) -> None:
        self._fd = fd
        self._callback = callback
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(fd, self._ready)

    @classmethod
    def start(cls, directory: str, callback: Callable[[], None]) -> WakeWatch | None:
        """A watch on the store at `directory`, or None where inotify is unavailable."""
        libc = _libc()
        if libc is None:
            return None
        fd = libc.inotify_init1(_FLAGS)
        if fd < 0:
            return None
        try:
            os.close(_open_wake_file(directory))
            path = os.path.join(directory, WAKE_FILE).encode()
            if libc.inotify_add_watch(fd, path, _IN_MODIFY) < 0:
                raise OSError(ctypes.get_errno(), "inotify_add_watch")
            return cls(fd, callback)
        except OSError:
            os.close(fd)
            return None

    def _ready(self) -> None:
        try:
            while os.read(self._fd, 4096):
                pass
        except BlockingIOError:
            pass
        self._callback()

    def close(self) -> None:
        if not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
        os.close(self._fd)


_LIBC: list[ctypes.CDLL | None] = []


def _libc() -> ctypes.CDLL | None:
    """The C library if it has inotify (looked up once)."""
    if not _LIBC:
        try:
            libc = ctypes.CDLL(None, use_errno=True)  # this process's symbols, libc's among them
            found = libc if hasattr(libc, "inotify_init1") else None
        except OSError:
            found = None
        _LIBC.append(found)
    return _LIBC[0]
