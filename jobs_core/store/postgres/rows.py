"""Converting between PostgreSQL records and our records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from jobs_core.fast_init import row_builder
from jobs_core.records import (
    AttemptOutcome,
    DependencyPolicy,
    Job,
    JobError,
    JobState,
    JobSummary,
)
from jobs_core.retry_policy import policy_from_json
from jobs_core.store.rows import NOT_STORED, SUMMARY_FIELDS, job_builder

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


PLAIN_FIELDS = (
    "id", "command", "request_type", "request_body", "run_after", "created_date",
    "retry_limit", "attempts", "timeout_secs", "logs", "queue", "priority", "concurrency_limit",
)  # fmt: skip
"""What a plain claim (`claim_sql.claim_plain`) returns of each job it starts: the columns a
plain job has set (of types a `Job` takes as they are), less those the claimer knows
(`PLAIN_KNOWN`); then `RARE` as one anonymous record, or NULL when all of them are NULL (or
`logs_truncated` false), as they are for most jobs."""

PLAIN_KNOWN = ("worker", "owner", "started_date", "last_activity_date")
"""What the plain claim knows of each job it starts: the default worker (it claims only its
jobs) and the owner and time it sets (`state` is `started`)."""

RARE = tuple(f for f in JOB_FIELDS if f not in (*PLAIN_FIELDS, *PLAIN_KNOWN, "state"))
"""Every other job column (a parent, a ref_id, a tag, an error of an earlier attempt, args,
a concurrency key, ...)."""

_build_plain = row_builder(
    Job, (*PLAIN_FIELDS, *PLAIN_KNOWN), {**NOT_STORED, "state": JobState.STARTED}
)
_RARE_AT = len(PLAIN_FIELDS)
_FULL_ORDER = [(*PLAIN_FIELDS, *RARE, *PLAIN_KNOWN, "state").index(f) for f in JOB_FIELDS]


def plain_claimed_job(row: Sequence[Any] | asyncpg.Record, known: tuple[Any, ...]) -> Job:
    """The `Job` of a plain claim's row (`PLAIN_FIELDS`, then the `RARE` record), `known`
    the values of `PLAIN_KNOWN`: made from the row and `known` alone when the record is
    NULL, the fields it leaves out at their defaults (a NULL column's value in `row_to_job`);
    else as `row_to_job` makes it, from all three."""
    rare = row[_RARE_AT]
    if rare is None:
        return _build_plain((*row[:_RARE_AT], *known))
    values = (*row[:_RARE_AT], *rare, *known, JobState.STARTED.value)
    return row_to_job([values[i] for i in _FULL_ORDER])


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
