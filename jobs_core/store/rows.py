"""Rows both backends read the same way: engines, command declarations, lost jobs.

Each backend selects these columns in the order given here; only the SQL differs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import fields
from typing import Any, Protocol

from jobs_core.batch_rules import callback_from_json
from jobs_core.fast_init import row_builder
from jobs_core.flow import declared_flow_from_json, declared_flow_to_json
from jobs_core.liveness import engine_state
from jobs_core.records import (
    LIVE_ENGINE_STATES,
    AttemptOutcome,
    BatchState,
    CommandDefinition,
    EngineInfo,
    Job,
    JobError,
    JobState,
    JobSummary,
    ThroughputBucket,
)
from jobs_core.request_shape import shape_from_json, shape_to_json
from jobs_core.store.protocol import Transition

SUMMARY_FIELDS = [f.name for f in fields(JobSummary)]
"""Columns of `job_summary` on both backends, in `JobSummary` order."""
SUMMARY_SELECT = ", ".join(SUMMARY_FIELDS)


def live_summary_select(error_key: Callable[[str], str]) -> str:
    """A job's summary selected from its full row in `background_job`, in `SUMMARY_FIELDS`
    order: the summary's `error_code` and `error_message` are keys of the row's `error`
    JSON, read with the backend's `error_key("code")` expression."""
    return ", ".join(
        f"{error_key(name.removeprefix('error_'))} AS {name}"
        if name in ("error_code", "error_message")
        else name
        for name in SUMMARY_FIELDS
    )


class Row(Protocol):
    """A row as either driver returns it (a tuple, an asyncpg `Record`)."""

    def __getitem__(self, index: int, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


NOT_STORED = {"progress_estimated": False}
"""`Job` fields no table holds, with the value a job read from a table has."""


def job_builder(columns: Sequence[str]) -> Callable[[Sequence[Any]], Job]:
    """A function making a `Job` of values in `columns` order (every stored field): it sets
    the slots directly (`fast_init.row_builder`), which the frozen dataclass's `__init__`
    does through `object.__setattr__` one keyword at a time (2.3 µs a job against 7.8,
    measured), on every claim and listing. The values must already be of the fields'
    types."""
    missing = {f.name for f in fields(Job)} - set(columns) - set(NOT_STORED)
    if missing:
        raise ValueError(f"job columns lack {sorted(missing)}")
    return row_builder(Job, columns, NOT_STORED)


ENGINE_COLUMNS = (
    "id, host, pid, started_at, heartbeat_at, lease_expires_at, stopped_at, workers, commands, "
    "concurrency, running, processed, failed, lost_reason"
)
"""An engine row as `engine_info` reads it (workers and commands as JSON text)."""

COMMAND_COLUMNS = (
    "name, worker, retry_limit, timeout_secs, request_type, request_shape, declared_by, "
    "declared_at, flow"
)
"""A command declaration as `command_values` writes it and `command_definition` reads it
(the request shape and the flow options as JSON text)."""


def throughput_buckets(rows: Iterable[tuple[int, str, int]]) -> list[ThroughputBucket]:
    """Per-minute buckets from (minute, state, count) rows in minute order."""
    buckets: dict[int, dict[str, int]] = {}
    for minute, state, n in rows:
        buckets.setdefault(minute, {})[state] = n
    return [
        ThroughputBucket(minute_start=minute, completed=b.get("completed", 0),
                         failed=b.get("failed", 0), cancelled=b.get("cancelled", 0))
        for minute, b in buckets.items()
    ]  # fmt: skip


def engine_info(r: Row, now: int) -> EngineInfo:
    """An engine row of `ENGINE_COLUMNS` with its state as of `now`."""
    state, reason = engine_state(
        stopped_at=r[6], lost_reason=r[13], heartbeat_at=r[4], lease_expires_at=r[5], now=now
    )
    return EngineInfo(
        id=r[0], host=r[1], pid=r[2], started_at=r[3], heartbeat_at=r[4],
        lease_expires_at=r[5], workers=json.loads(r[7]), commands=json.loads(r[8]),
        concurrency=r[9], running=r[10], processed=r[11], failed=r[12],
        alive=state in LIVE_ENGINE_STATES, state=state, reason=reason,
    )  # fmt: skip


def command_values(d: CommandDefinition) -> tuple[Any, ...]:
    """A declaration's values in `COMMAND_COLUMNS` order."""
    shape = json.dumps(shape_to_json(d.shape)) if d.shape is not None else None
    return (
        d.name, d.worker, d.retry_limit, d.timeout_secs, d.request_type, shape, d.declared_by,
        d.declared_at, declared_flow_to_json(d),
    )  # fmt: skip


def command_definition(row: Row) -> CommandDefinition:
    """A declaration from a row of `COMMAND_COLUMNS`."""
    name, worker, retry_limit, timeout_secs, request_type, shape, by, at, flow = row
    return CommandDefinition(
        name=name, worker=worker, retry_limit=retry_limit, timeout_secs=timeout_secs,
        request_type=request_type, shape=shape_from_json(json.loads(shape)) if shape else None,
        declared_by=by, declared_at=at, **declared_flow_from_json(flow),
    )  # fmt: skip


def lost_transition(
    now: int, job_id: int, owner: str, attempts: int, retry_limit: int, cancel_requested: bool
) -> Transition:
    """What recovery does to a started job whose engine is gone: requeue it (the attempt
    counted), fail it past its retry limit, or cancel it if a cancel was asked for."""
    lost = f"attempt {attempts} was lost: its engine {owner} stopped without finishing it"
    if cancel_requested:
        state, error = JobState.CANCELLED, JobError(code="Cancelled", message=lost)
    elif attempts > retry_limit:
        state, error = JobState.FAILED, JobError(code="WorkerLost", message=lost)
    else:
        state, error = JobState.QUEUED, JobError(code="WorkerLost", message=lost)
    outcome = "requeued" if state is JobState.QUEUED else state.value
    return Transition(
        job_id=job_id, state=state, owner_guard=owner,
        run_after=now if state is JobState.QUEUED else None, error=error,
        logs=f"[recovery] {lost}; {outcome}\n", outcome=AttemptOutcome.LOST,
    )  # fmt: skip


BATCH_RECORD_COLUMNS = (
    "batch_id, state, number, name, on_complete, on_success, meta, declared_total, "
    "created_at, closed_at, cancelled_at, finished_at, callback_ids"
)
"""A `job_batch` row as `batch_fields` reads it (JSON columns as text)."""


def batch_fields(row: Row | None) -> dict[str, Any]:
    """`BatchStatus` fields from a `job_batch` row (`BATCH_RECORD_COLUMNS`); none for a
    batch without a row."""
    if row is None:
        return {}
    (_, state, _, name, on_complete, on_success, meta, total, created, closed, cancelled,
     finished, callbacks) = row  # fmt: skip
    fields: dict[str, Any] = {
        "state": BatchState(state), "name": name, "declared_total": total,
        "meta": json.loads(meta) if meta else {}, "created_at": created, "closed_at": closed,
        "cancelled_at": cancelled, "on_complete": _command(on_complete),
        "on_success": _command(on_success),
        "callback_ids": json.loads(callbacks) if callbacks else [],
    }  # fmt: skip
    if finished is not None:
        fields["finished_at"] = finished
    return fields


def _command(callback: str | None) -> str | None:
    found = callback_from_json(callback)
    return found.command if found else None
