"""`EnqueueOptions`: the typed keyword options every enqueue call shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal, TypedDict

from .flow_records import OnConflict
from .records import DependencyPolicy
from .retry_policy import RetryPolicy


class EnqueueOptions(TypedDict, total=False):
    """Options of `jobs.enqueue`, `handle.enqueue` and `jobs.sync.enqueue` (all optional).

    One definition, so a misspelt option is a type error everywhere and the fields of
    `EnqueueRequest` cannot drift from it (a test compares them).
    """

    worker: str | None
    run_after: datetime | timedelta | None
    retry_limit: int | None
    timeout: float | None
    ref_id: str | None
    tag: str | None
    created_by: str | None
    batch_id: str | None
    args: Mapping[str, str] | None
    parent_id: int | None
    depends_on: int | Sequence[int] | None
    depends_on_batch: str | None
    depends_policy: DependencyPolicy | Literal["completed", "finished"] | None
    callback: str | None
    user_id: str | None
    reply_to: str | None
    queue: str | None
    priority: int | None
    expires_at: datetime | None
    expires_in: timedelta | None
    concurrency_key: str | None
    concurrency_limit: int | None
    unique_key: str | None
    on_conflict: OnConflict | None
    retry: RetryPolicy | None


class RunOptions(TypedDict, total=False):
    """Options of a transient run (`jobs.run_command`, `handle.run`)."""

    worker: str | None
    user_id: str | None
    args: Mapping[str, str] | None
    timeout: float | None
