"""Scheduled-task operations of `SqliteStore` (mixed into it)."""

from __future__ import annotations


class TaskStoreMixin:
    """Scheduled-task methods of the SQLite store; uses the store's `_write` and `_read`."""
