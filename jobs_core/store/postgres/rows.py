"""Converting between PostgreSQL records and our records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from jobs_core.records import (
    AttemptOutcome,
    DependencyPolicy,
    Job,
    JobError,
    JobState,
    JobSummary,
)
from jobs_core.retry_policy import policy_from_json
from jobs_core.store.rows import SUMMARY_FIELDS, job_builder

from .schema import JOB_FIELDS

JOB_SELECT = ", ".join(JOB_FIELDS)
"""Column list selecting a full job row in `row_to_job` order."""
_build = job_builder(JOB_FIELDS)

_STATES = {state.value: state for state in JobState}
_STATE, _ERROR, _ARGS, _META, _RETRY, _OUTCOME, _DEPENDENCIES, _POLICY = (
    JOB_FIELDS.index(n)
    for n in (
        "state", "error", "args", "meta", "retry_policy", "last_outcome", "dependencies",
        "depends_policy",
    )
)  # fmt: skip
_COMPLETED = DependencyPolicy.COMPLETED


def row_to_job(row: Sequence[Any] | asyncpg.Record) -> Job:
    """A `Job` from a record selected with `JOB_SELECT` (jsonb columns arrive as text)."""
    values = list(row)
    values[_STATE] = _STATES[values[_STATE]]
    values[_ERROR] = error_from_json(values[_ERROR])
    values[_ARGS] = json.loads(values[_ARGS]) if values[_ARGS] else {}
    values[_META] = json.loads(values[_META]) if values[_META] else {}
    if values[_RETRY] is not None:
        values[_RETRY] = policy_from_json(values[_RETRY])
    values[_OUTCOME] = AttemptOutcome(values[_OUTCOME]) if values[_OUTCOME] else None
    values[_DEPENDENCIES] = json.loads(values[_DEPENDENCIES]) if values[_DEPENDENCIES] else []
    values[_POLICY] = DependencyPolicy(values[_POLICY]) if values[_POLICY] else _COMPLETED
    return _build(values)


def row_to_summary(row: Sequence[Any] | asyncpg.Record) -> JobSummary:
    values = dict(zip(SUMMARY_FIELDS, row, strict=True))
    values["state"] = _STATES[values["state"]]
    return JobSummary(**values)


def error_to_json(error: JobError | None) -> str | None:
    if error is None:
        return None
    return json.dumps(
        {"code": error.code, "message": error.message, "stack": error.stack,
         "field_errors": error.field_errors}
    )  # fmt: skip


def error_from_json(text: str | None) -> JobError | None:
    if not text:
        return None
    data = json.loads(text)
    return JobError(
        code=data.get("code", ""), message=data.get("message", ""), stack=data.get("stack", ""),
        field_errors=data.get("field_errors") or {},
    )  # fmt: skip


def columns(rows: list[tuple[Any, ...]], width: int) -> list[tuple[Any, ...]]:
    """`rows` turned into `width` columns (one array parameter each), transposed in C."""
    return list(zip(*rows, strict=True)) if rows else [() for _ in range(width)]


def json_or_none(value: dict[str, str]) -> str | None:
    """A string map as JSON, or None when empty (most jobs have no args or meta)."""
    return json.dumps(value) if value else None
