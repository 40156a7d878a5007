"""Every engine and store default in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class Durability(StrEnum):
    """How hard a commit is pushed to disk (SQLite `synchronous`)."""

    NORMAL = "NORMAL"
    """Survives a process crash; the last commits may be lost on power loss. Default."""
    FULL = "FULL"
    """Survives power loss too: an enqueue returns, and an outcome counts as written, once
    its commit was fsynced. An engine's claims and heartbeats do not wait for an fsync (on
    SQLite the next commit that does covers them; losing one only puts its jobs back in
    the queue to run again, as when an engine dies)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Engine and store settings; every field has a default that suits most apps."""

    durability: Durability = Durability.NORMAL
    """SQLite `synchronous` level for every database of the store."""
    busy_timeout_secs: float = 30.0
    """How long a write waits for another process's lock before `StoreBusyError`."""
    default_retry_limit: int = 2
    """Retries after the first attempt for jobs that set none (three runs in all)."""
    default_timeout_secs: float = 600.0
    """Longest an attempt may run for jobs that set none."""
    concurrency: int = 100
    """Jobs the default worker runs at once in this engine."""
    sync_threads: int = 16
    """Threads available to plain-`def` handlers."""
    claim_batch: int = 256
    """Most jobs claimed in one transaction."""
    retry_backoff_secs: float = 5.0
    """Delay before the first retry; doubles each attempt."""
    retry_backoff_max_secs: float = 300.0
    """Longest delay between retries."""
    retry_jitter: float = 0.25
    """Random spread of each retry delay, as a fraction (0.25 = ±25%)."""
    lease_secs: float = 15.0
    """How long an engine's claim on its jobs lasts without a heartbeat."""
    heartbeat_secs: float = 2.0
    """How often an engine renews its lease and looks for jobs of dead engines."""
    poll_active_secs: float = 0.001
    """Change-check interval while work arrived recently."""
    poll_idle_secs: float = 0.02
    """Change-check interval after `idle_after_secs` without work."""
    idle_after_secs: float = 2.0
    """Quiet time after which the engine polls at the idle interval."""
    progress_flush_secs: float = 0.1
    """Longest delay before progress, status and log updates are written."""
    archive_secs: float = 0.25
    """Longest delay before finished jobs move to their month database (a pass that moved
    `archive_batch` jobs is followed by the next at once). On SQLite a job that finished
    before an older one still due or running may wait up to a second more, so that
    passes archive in id order (`store/sqlite/archive_order.py`)."""
    archive_batch: int = 2000
    """Most finished jobs moved per archive transaction."""
    drain_timeout_secs: float = 30.0
    """How long leaving `async with jobs:` waits for running jobs before cancelling them."""
    max_log_chars: int = 1_000_000
    """Logs of one job beyond this many characters are truncated from the front."""
    keep_completed: timedelta | None = None
    """How long engines keep completed jobs after they finished; None keeps them for ever.
    Older ones are removed in the background (whole months at once: their file, or their
    partitions), summaries included (`jobs.purge` does the same on demand)."""
    keep_failed: timedelta | None = None
    """How long engines keep failed and cancelled jobs; None keeps them for ever."""
    retention_every_secs: float = 600.0
    """How often one engine of the store looks for jobs past `keep_completed`/`keep_failed`."""
    retention_step: int = 500
    """Most jobs removed per retention transaction, one step a second while more remain,
    so retention never holds the store for long."""
    expiry_sweep_secs: float = 1.0
    """How often an engine cancels queued jobs past their `expires_at` (claims never start
    them meanwhile; the sweep settles their state and their dependents')."""
