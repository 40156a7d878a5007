"""Scheduled-task operations of `PostgresStore` (mixed into it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from jobs_core.store.protocol import NewJob
from jobs_core.store.task_protocol import StoredTask, TaskDefinition, TaskScan

from . import tasks
from .connection import Conn

R = TypeVar("R")


class TaskStoreMixin:
    """Scheduled-task methods of the PostgreSQL store; uses the store's `_write` and `_read`.

    Contracts are stated on `TaskStore` (jobs_core/store/task_protocol.py).
    """

    if TYPE_CHECKING:
        channel: str

        async def _write(self, fn: Callable[[Conn], Awaitable[R]]) -> R: ...

        async def _read(self, fn: Callable[[Conn], Awaitable[R]]) -> R: ...

    async def save_task(
        self,
        task: TaskDefinition,
        now: int,
        next_run_at: Callable[[StoredTask | None], int | None],
    ) -> None:
        async def save(conn: Conn) -> None:
            await conn.execute(tasks.LOCK_NAME, task.name)
            existing = await tasks.get_for_update(conn, task.name)
            await tasks.save(conn, task, now, next_run_at(existing), existing is None, self.channel)

        await self._write(save)

    async def get_task(self, name: str) -> StoredTask | None:
        return await self._read(lambda conn: tasks.get(conn, name))

    async def list_tasks(self) -> list[StoredTask]:
        return await self._read(tasks.list_all)

    async def delete_task(self, name: str) -> bool:
        async def delete(conn: Conn) -> bool:
            return await conn.fetchrow(tasks.DELETE, name, self.channel) is not None

        return await self._write(delete)

    async def pause_task(self, name: str, now: int) -> bool:
        async def pause(conn: Conn) -> bool:
            return await conn.fetchrow(tasks.PAUSE, name, now, self.channel) is not None

        return await self._write(pause)

    async def resume_task(
        self, name: str, now: int, next_run_at: Callable[[StoredTask], int | None]
    ) -> bool:
        async def resume(conn: Conn) -> bool:
            await conn.execute(tasks.LOCK_NAME, name)
            existing = await tasks.get_for_update(conn, name)
            if existing is None:
                return False
            if existing.paused:
                await conn.fetch(tasks.RESUME, name, now, next_run_at(existing), self.channel)
            return True

        return await self._write(resume)

    async def request_task_run(self, name: str, now: int) -> bool:
        async def request(conn: Conn) -> bool:
            return await conn.fetchrow(tasks.REQUEST_RUN, name, self.channel) is not None

        return await self._write(request)

    async def scan_tasks(self, now: int) -> TaskScan:
        return await self._read(lambda conn: tasks.scan(conn, now))

    async def fire_task(
        self, task: StoredTask, next_run_at: int | None, jobs: list[NewJob], now: int,
        *, ended: bool = False,
    ) -> list[int] | None:  # fmt: skip
        return await self._write(
            lambda conn: tasks.fire(conn, task, next_run_at, jobs, now, self.channel, ended)
        )

    async def fire_task_now(self, task: StoredTask, job: NewJob, now: int) -> int | None:
        return await self._write(lambda conn: tasks.fire_now(conn, task, job, now, self.channel))
