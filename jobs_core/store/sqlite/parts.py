"""`StoreParts`: what the mixins of `SqliteStore` use from it (declared for type checking)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from .archive import MonthArchive

R = TypeVar("R")


class StoreParts:
    """The transaction helpers and the month archive the store's mixins build on."""

    if TYPE_CHECKING:
        _archive: MonthArchive
        _max_log: int

        async def _write(self, fn: Callable[[sqlite3.Connection], R]) -> R:
            """Run `fn` in one write transaction, retrying while another process holds it."""

        async def _read(self, fn: Callable[[sqlite3.Connection], R]) -> R:
            """Run `fn` on the read connection in a worker thread."""

        async def _in_archive(self, fn: Callable[[], R]) -> R:
            """Call `fn` (on the archive's connection) once no archive copy runs in the
            store's thread, retrying while another process holds the lock."""
