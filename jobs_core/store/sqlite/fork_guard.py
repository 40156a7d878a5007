"""`ForkGuard`: `os.fork()` waits until no background thread of a store is inside SQLite.

The system SQLite takes process-wide mutexes (its allocator's, when it counts memory, and
the unix VFS's list of open files) in every statement and every open. A child forked
while another thread holds one inherits it locked, with no thread left to release it, and
its first SQLite call waits forever: a gunicorn `--preload` worker, forked after the
master enqueued through `jobs.sync`, hung so at its first enqueue (3 runs in 100 here,
while the checkpointer thread was opening its connection). The store's own threads (the
checkpointer, the archive's) therefore run their SQLite work inside a guard, and a hook
run before every fork takes all the guards, so the fork lands between two of their calls.

Threads of the caller's own (an event loop running an engine, `jobs.sync` called from
another thread at the moment of the fork) are not covered: fork while they are idle.
"""

from __future__ import annotations

import os
import threading
import weakref
from types import TracebackType

_GUARDS: weakref.WeakSet[ForkGuard] = weakref.WeakSet()
_HELD: list[ForkGuard] = []


class ForkGuard:
    """A lock a background thread holds while it calls SQLite; a fork waits for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        _GUARDS.add(self)

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._lock.release()


def _hold_all() -> None:
    for guard in list(_GUARDS):
        guard._lock.acquire()
        _HELD.append(guard)


def _release_all() -> None:
    # In the child the forking thread is the only one left, and it holds them: let go.
    while _HELD:
        _HELD.pop()._lock.release()


os.register_at_fork(before=_hold_all, after_in_parent=_release_all, after_in_child=_release_all)
