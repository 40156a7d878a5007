"""`OffLoop`: a thread of the SQLite store for the work whose statements are long and few
(the archive's copy into the month files), so that they run beside the event loop's Python.

CPython's `sqlite3` lets go of the GIL inside each statement's step, but a thread must win
the GIL back after each step from a busy loop thread, which can take up to
`sys.getswitchinterval()` (5 ms). So only work of a few long steps belongs here: the copy
of up to `archive_batch` jobs is five statements of milliseconds each. The engine's claims
and outcomes stay on the loop (measured: bench/README.md, "SQL beside the loop's Python").

The thread is started on first use; `close` waits for its last call, then stops it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from .connection import is_busy, stayed_locked, translate
from .fork_guard import ForkGuard

R = TypeVar("R")

POLL_SECS = 0.0005
"""First pause while another process holds a lock the call needs; pauses double up to
`POLL_MAX_SECS` (the thread waits, not the loop)."""
POLL_MAX_SECS = 0.005


class OffLoop:
    """One thread running calls in order, each retried while another process holds the
    lock it needs."""

    def __init__(self, path: str, busy_timeout_secs: float) -> None:
        self._path = path
        self._busy_timeout_secs = busy_timeout_secs
        self._executor: ThreadPoolExecutor | None = None
        self._guard = ForkGuard()

    async def call(self, fn: Callable[[], R]) -> R:
        """`fn()` in the thread, its SQLite error raised as the store's (`translate`).

        Cancelling the caller waits for `fn` to end: the caller's lock on what `fn` uses
        (the archive's connection) must be held until it does."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="jobs-archive")
        future = asyncio.get_running_loop().run_in_executor(
            self._executor, partial(self._retrying, fn)
        )
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait([future])
            raise

    def _retrying(self, fn: Callable[[], R]) -> R:
        deadline = time.monotonic() + self._busy_timeout_secs
        pause = POLL_SECS
        while True:
            try:
                with self._guard:
                    return fn()
            except sqlite3.DatabaseError as error:
                if not is_busy(error):
                    raise translate(error, self._path) from None
            if time.monotonic() > deadline:
                raise stayed_locked(self._path, self._busy_timeout_secs)
            time.sleep(pause)
            pause = min(pause * 2, POLL_MAX_SECS)

    def close(self) -> None:
        """Wait for the call under way, if any, then stop the thread."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
