"""Scheduled and recurring tasks: the part of the `BackgroundJobs` facade that registers them."""

from __future__ import annotations

from typing import Any


class SchedulingMixin:
    """Scheduled-task methods of `BackgroundJobs`."""

    def _scheduler_ticker(self) -> Any:
        """The engine ticker that enqueues due runs, or None."""
        return None
