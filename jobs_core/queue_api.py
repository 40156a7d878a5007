"""The flow-control API of `BackgroundJobs`: queue settings and figures, and why a job waits."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Final, Literal

from .clock import Clock
from .errors import InvalidOptionError, JobNotFoundError
from .flow import explain
from .flow_records import (
    QueueInfo,
    QueueSettings,
    RateLimit,
    WaitInfo,
    check_concurrency,
    check_queue_name,
)
from .limits import check_job_id
from .registry import CommandRegistry
from .store.protocol import QueueChange, Store

if TYPE_CHECKING:
    from .engine.engine import Engine
    from .enqueuing import JobBuilder


class Unset(Enum):
    """The type of `UNSET`: an option left as it is."""

    UNSET = "unset"


UNSET: Final = Unset.UNSET
"""`set_queue(name, concurrency=UNSET)`: keep the current value (None removes a limit)."""


class QueueMixin:
    """Queue settings (concurrency, pause, rate limit), queue figures, wait reasons."""

    store: Store
    clock: Clock
    registry: CommandRegistry
    _engine: Engine | None

    _builder: JobBuilder

    async def set_queue(
        self,
        name: str,
        *,
        concurrency: int | Literal[Unset.UNSET] | None = UNSET,
        rate_limit: RateLimit | Literal[Unset.UNSET] | None = UNSET,
        paused: bool | None = None,
    ) -> QueueSettings:
        """Change a queue's settings store-wide, from any process; returns them.

        `concurrency`: most of its jobs running at once across every engine (None: no
        limit). `rate_limit`: most starts per window across every engine (None: none).
        `paused`: a paused queue starts nothing new; running jobs finish. Options left out
        keep their value. Every engine applies the change at its next claim, well within a
        second; the settings survive restarts. A named worker's queue runs one job at a time
        whatever its concurrency, so setting one other than 1 on it is refused.
        """
        check_queue_name(name, "queue name")
        if concurrency is not UNSET:
            check_concurrency(concurrency)
            if concurrency not in (None, 1):
                await self._refuse_named_worker(name)
        if rate_limit not in (UNSET, None) and not isinstance(rate_limit, RateLimit):
            raise InvalidOptionError(
                f"rate_limit must be a RateLimit (or None: no limit), got {rate_limit!r}"
            )
        rate = rate_limit if isinstance(rate_limit, RateLimit) else None
        change = QueueChange(
            paused=_check_paused(paused),
            concurrency=concurrency if isinstance(concurrency, int) else None,
            clear_concurrency=concurrency is None,
            rate_limit=rate.limit if rate else None,
            rate_per_ms=rate.per_ms if rate else None,
            clear_rate_limit=rate_limit is None,
        )
        settings = await self.store.set_queue(name, change, self.clock.now_ms())
        if self._engine is not None:
            self._engine.wake()
        return settings

    async def pause_queue(self, name: str) -> QueueSettings:
        """Pause a queue store-wide: nothing new starts (running jobs finish) until resumed."""
        return await self.set_queue(name, paused=True)

    async def resume_queue(self, name: str) -> QueueSettings:
        """Resume a paused queue."""
        return await self.set_queue(name, paused=False)

    async def queues(self) -> list[QueueInfo]:
        """Every queue with jobs in the queue, settings, or finishes in the last 15 minutes,
        by name: concurrency, paused, rate limit and current rate, running, queued, jobs
        finished and failed in the last 15 minutes."""
        return await self.store.queues(self.clock.now_ms())

    async def queue_settings(self) -> list[QueueSettings]:
        """The settings of every queue an operator set, by name."""
        return await self.store.queue_settings()

    async def why_waiting(self, job_id: int) -> WaitInfo:
        """Why a job is not running: every reason that holds now (paused queue, rate limit,
        full queue, concurrency key, dependency, retry backoff, `run_after`, expiry), in words
        and as `WaitReason`s. A job not queued says what it is doing instead."""
        check_job_id(job_id)
        found = await self.why_waiting_many([job_id])
        if job_id in found:
            return found[job_id]
        result = await self.store.get_job(job_id)
        if result is None:
            raise JobNotFoundError(f"there is no job {job_id}")
        return WaitInfo(job_id=job_id, state=result.state, text=f"not waiting: {result.state}")

    async def why_waiting_many(self, job_ids: Sequence[int]) -> dict[int, WaitInfo]:
        """`why_waiting` for the jobs of `job_ids` still in the live queue, in one read."""
        now = self.clock.now_ms()
        facts = await self.store.wait_facts(list(job_ids), now)
        return {f.job.id: explain(f, now) for f in facts}

    async def _refuse_named_worker(self, name: str) -> None:
        workers = {c.worker for c in self.registry.commands()}
        workers.update(d.worker for d in await self._builder.refresh())
        if name in workers:
            raise InvalidOptionError(
                f"queue '{name}' is a named worker's: it runs one job at a time, in order; "
                "its concurrency stays 1"
            )


def _check_paused(paused: object) -> bool | None:
    if paused is not None and not isinstance(paused, bool):
        raise InvalidOptionError(f"paused must be True, False or None, got {paused!r}")
    return paused
