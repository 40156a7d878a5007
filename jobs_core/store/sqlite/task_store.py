"""Scheduled-task operations of `SqliteStore` (mixed into it)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from jobs_core.store.protocol import NewJob
from jobs_core.store.task_protocol import StoredTask, TaskDefinition, TaskScan

from . import tasks

R = TypeVar("R")


class TaskStoreMixin:
    """Scheduled-task methods of the SQLite store; uses the store's `_write` and `_read`.

    Contracts are stated on `TaskStore` (jobs_core/store/task_protocol.py).
    """

    if TYPE_CHECKING:

        async def _write(self, fn: Callable[[sqlite3.Connection], R]) -> R: ...

        async def _read(self, fn: Callable[[sqlite3.Connection], R], *, jobs: bool = True) -> R: ...

    async def save_task(
        self,
        task: TaskDefinition,
        now: int,
        next_run_at: Callable[[StoredTask | None], int | None],
    ) -> None:
        def save(conn: sqlite3.Connection) -> None:
            existing = tasks.get(conn, task.name)
            tasks.save(conn, task, now, next_run_at(existing), new=existing is None)

        await self._write(save)

    async def get_task(self, name: str) -> StoredTask | None:
        return await self._read(lambda conn: tasks.get(conn, name))

    async def list_tasks(self) -> list[StoredTask]:
        return await self._read(tasks.list_all)

    async def delete_task(self, name: str) -> bool:
        return await self._write(lambda conn: tasks.delete(conn, name))

    async def pause_task(self, name: str, now: int) -> bool:
        return await self._write(lambda conn: tasks.pause(conn, name, now))

    async def resume_task(
        self, name: str, now: int, next_run_at: Callable[[StoredTask], int | None]
    ) -> bool:
        def resume(conn: sqlite3.Connection) -> bool:
            existing = tasks.get(conn, name)
            if existing is None:
                return False
            if existing.paused:
                tasks.resume(conn, name, now, next_run_at(existing))
            return True

        return await self._write(resume)

    async def request_task_run(self, name: str, now: int) -> bool:
        return await self._write(lambda conn: tasks.request_run(conn, name))

    async def scan_tasks(self, now: int) -> TaskScan:
        return await self._read(lambda conn: tasks.scan(conn, now), jobs=False)

    async def fire_task(
        self, task: StoredTask, next_run_at: int | None, jobs: list[NewJob], now: int,
        *, ended: bool = False,
    ) -> list[int] | None:  # fmt: skip
        return await self._write(lambda conn: tasks.fire(conn, task, next_run_at, jobs, now, ended))

    async def fire_task_now(self, task: StoredTask, job: NewJob, now: int) -> int | None:
        return await self._write(lambda conn: tasks.fire_now(conn, task, job, now))
