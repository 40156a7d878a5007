"""Converting between SQLite rows and our records."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from jobs_core.fast_init import row_builder
from jobs_core.records import (
    AttemptOutcome,
    DependencyPolicy,
    Job,
    JobError,
    JobState,
    JobSummary,
)
from jobs_core.retry_policy import policy_from_json, policy_to_json
from jobs_core.store.rows import NOT_STORED, SUMMARY_FIELDS, job_builder

from .schema import JOB_FIELDS

JOB_SELECT = ", ".join(JOB_FIELDS)
"""Column list selecting a full job row in `row_to_job` order."""


_STATES = {state.value: state for state in JobState}
_build = job_builder(JOB_FIELDS)
_STATE, _ERROR, _ARGS, _META, _TRUNCATED, _RETRY, _OUTCOME, _DEPENDENCIES, _POLICY = (
    JOB_FIELDS.index(n)
    for n in (
        "state", "error", "args", "meta", "logs_truncated", "retry_policy", "last_outcome",
        "dependencies", "depends_policy",
    )
)  # fmt: skip


def row_to_job(row: tuple[Any, ...]) -> Job:
    """A `Job` from a row selected with `JOB_SELECT` (on the claim path: kept lean)."""
    values = list(row)
    values[_STATE] = _STATES[values[_STATE]]
    values[_ERROR] = error_from_json(values[_ERROR]) if values[_ERROR] else None
    values[_ARGS] = json.loads(values[_ARGS]) if values[_ARGS] else {}
    values[_META] = json.loads(values[_META]) if values[_META] else {}
    values[_TRUNCATED] = bool(values[_TRUNCATED])
    if values[_RETRY] is not None:
        values[_RETRY] = policy_from_json(values[_RETRY])
    values[_OUTCOME] = AttemptOutcome(values[_OUTCOME]) if values[_OUTCOME] else None
    values[_DEPENDENCIES] = json.loads(values[_DEPENDENCIES]) if values[_DEPENDENCIES] else []
    values[_POLICY] = DependencyPolicy(values[_POLICY]) if values[_POLICY] else _COMPLETED
    return _build(values)


_COMPLETED = DependencyPolicy.COMPLETED

CLAIMED_FIELDS = (
    "id", "command", "request_type", "request_body", "worker", "run_after", "created_date",
    "started_date", "last_activity_date", "retry_limit", "attempts", "timeout_secs", "logs",
    "owner", "queue", "priority", "concurrency_limit", "concurrency_key",
)  # fmt: skip
"""The columns a plain job just claimed has set, of types a `Job` takes as they are; its
state is `started`. A claim returns them less those it knows (`ONE_SELECT`, `FLOW_SELECT`),
then whether any other column is set."""

_RARE = tuple(
    "nullif(logs_truncated, 0)" if name == "logs_truncated" else name
    for name in JOB_FIELDS
    if name not in CLAIMED_FIELDS and name != "state"
)

CLAIM_KNOWN = ("command", "worker", "queue", "owner", "started_date", "last_activity_date")
"""What the claimer knows of each job a plain claim (`claims.CLAIM_ONE`) takes: its one
command and queue, the default worker, and the owner and time it sets."""

ONE_FIELDS = tuple(name for name in CLAIMED_FIELDS if name not in CLAIM_KNOWN)

ONE_SELECT = f"{', '.join(ONE_FIELDS)}, coalesce({', '.join(_RARE)}) IS NOT NULL"
"""`CLAIMED_FIELDS` less the columns the claimer knows (`CLAIM_KNOWN`), then whether any
other is set (as `FLOW_SELECT`): 6 columns fewer a row handed to Python, their values
shared by the claim's jobs (`one_claimed_jobs`)."""

build_one = row_builder(Job, (*ONE_FIELDS, *CLAIM_KNOWN), {**NOT_STORED, "state": JobState.STARTED})

FULL_ROWS = f"SELECT {JOB_SELECT} FROM background_job WHERE id IN (SELECT value FROM json_each(?))"
"""The full rows of jobs just claimed that set more than a plain job's columns."""


def one_claimed_jobs(
    conn: sqlite3.Connection, rows: list[tuple[Any, ...]], known: tuple[Any, ...]
) -> list[Job]:
    """The jobs of a plain claim's `ONE_SELECT` rows, `known` the values of `CLAIM_KNOWN`."""
    return _known_claimed_jobs(conn, rows, known, build_one)


def plain_claimed_jobs(rows: list[tuple[Any, ...]], known: tuple[Any, ...]) -> list[Job]:
    """`one_claimed_jobs` of rows none of which sets another column (nothing to read)."""
    return [build_one(row[:-1] + known) for row in rows]


FLOW_KNOWN = ("worker", "owner", "started_date", "last_activity_date")
"""What a flow-controlled claim (`flow_claim`) knows of each job it starts: the default
worker (its rounds read the default worker's jobs only), the owner and the time it sets."""

FLOW_FIELDS = tuple(name for name in CLAIMED_FIELDS if name not in FLOW_KNOWN)

FLOW_SELECT = f"{', '.join(FLOW_FIELDS)}, coalesce({', '.join(_RARE)}) IS NOT NULL"
"""A job a flow-controlled round started, as its statement returns it: `CLAIMED_FIELDS` less
`FLOW_KNOWN`, then whether any other column differs from its `Job` default (NULL, or
`logs_truncated` 0): a job with a parent, a callback, an error of an earlier attempt, ...
(`flow_claimed_jobs` then reads its full row). Each column a RETURNING hands to Python
costs ~60 ns a row, NULL or not: 14 columns instead of 48 (the claim's UPDATE … RETURNING
of 100 plain jobs, 8.6 → ~6.5 µs a job with 18; bench/README.md, "The engine's per-job
path, seventh pass"; the 4 known ones left out in the ninth pass of issue 10)."""

FLOW_KEY = FLOW_FIELDS.index("concurrency_key")

_build_flow = row_builder(
    Job, (*FLOW_FIELDS, *FLOW_KNOWN), {**NOT_STORED, "state": JobState.STARTED}
)


def flow_claimed_jobs(
    conn: sqlite3.Connection, rows: list[tuple[Any, ...]], known: tuple[Any, ...]
) -> list[Job]:
    """The jobs of a flow-controlled round's `FLOW_SELECT` rows, `known` the values of
    `FLOW_KNOWN`."""
    return _known_claimed_jobs(conn, rows, known, _build_flow)


def _known_claimed_jobs(
    conn: sqlite3.Connection, rows: list[tuple[Any, ...]], known: tuple[Any, ...],
    build: Callable[[Sequence[Any]], Job],
) -> list[Job]:  # fmt: skip
    """The jobs of a claim's rows (their columns, then whether any other is set): plain
    ones made by `build` from the row and `known`, the others from their full row, read in
    the claim's transaction (in no particular order: the caller sorts)."""
    jobs: list[Job] = []
    fuller: list[int] = []
    for row in rows:
        if row[-1]:
            fuller.append(row[0])
        else:
            jobs.append(build(row[:-1] + known))
    if fuller:
        jobs += map(row_to_job, conn.execute(FULL_ROWS, (json.dumps(fuller),)).fetchall())
    return jobs


def job_to_row(job: Job) -> tuple[Any, ...]:
    """The row values of `job`, in `JOB_FIELDS` order."""
    values: list[Any] = []
    for name in JOB_FIELDS:
        value = getattr(job, name)
        if name == "error":
            value = error_to_json(value)
        elif name in ("args", "meta", "dependencies"):
            value = json.dumps(value) if value else None
        elif name in ("state", "last_outcome"):
            value = value.value if value is not None else None
        elif name == "depends_policy":
            value = None if value is _COMPLETED else value.value
        elif name == "logs_truncated":
            value = int(value)
        elif name == "retry_policy":
            value = policy_to_json(value)
        values.append(value)
    return tuple(values)


def row_to_summary(row: tuple[Any, ...]) -> JobSummary:
    values = dict(zip(SUMMARY_FIELDS, row, strict=True))
    values["state"] = JobState(values["state"])
    return JobSummary(**values)


def error_to_json(error: JobError | None) -> str | None:
    if error is None:
        return None
    return json.dumps(
        {
            "code": error.code,
            "message": error.message,
            "stack": error.stack,
            "field_errors": error.field_errors,
        }
    )


def error_from_json(text: str | None) -> JobError | None:
    if not text:
        return None
    data = json.loads(text)
    return JobError(
        code=data.get("code", ""),
        message=data.get("message", ""),
        stack=data.get("stack", ""),
        field_errors=data.get("field_errors") or {},
    )
