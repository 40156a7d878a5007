"""Command declarations on SQLite: what the engines that run each command declared."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from jobs_core.flow import declared_flow_from_json, declared_flow_to_json
from jobs_core.records import CommandDefinition
from jobs_core.request_shape import shape_from_json, shape_to_json

DECLARE = """
INSERT INTO job_command (name, worker, retry_limit, timeout_secs, request_type, request_shape,
    declared_by, declared_at, flow)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET worker = excluded.worker, retry_limit = excluded.retry_limit,
    timeout_secs = excluded.timeout_secs, request_type = excluded.request_type,
    request_shape = excluded.request_shape, declared_by = excluded.declared_by,
    declared_at = excluded.declared_at, flow = excluded.flow
WHERE excluded.declared_at >= job_command.declared_at
"""

SELECT = """
SELECT name, worker, retry_limit, timeout_secs, request_type, request_shape, declared_by,
    declared_at, flow
FROM job_command ORDER BY name
"""


def declare(conn: sqlite3.Connection, definitions: list[CommandDefinition]) -> None:
    """Upsert `definitions`; an older declaration never replaces a newer one."""
    conn.executemany(DECLARE, [_values(d) for d in definitions])


def _values(d: CommandDefinition) -> tuple[Any, ...]:
    shape = json.dumps(shape_to_json(d.shape)) if d.shape is not None else None
    return (
        d.name, d.worker, d.retry_limit, d.timeout_secs, d.request_type, shape, d.declared_by,
        d.declared_at, declared_flow_to_json(d),
    )  # fmt: skip


def declared(conn: sqlite3.Connection) -> list[CommandDefinition]:
    """Every declared command, by name."""
    return [_definition(row) for row in conn.execute(SELECT)]


def _definition(row: tuple[Any, ...]) -> CommandDefinition:
    name, worker, retry_limit, timeout_secs, request_type, shape, by, at, flow = row
    return CommandDefinition(
        name=name, worker=worker, retry_limit=retry_limit, timeout_secs=timeout_secs,
        request_type=request_type, shape=shape_from_json(json.loads(shape)) if shape else None,
        declared_by=by, declared_at=at, **declared_flow_from_json(flow),
    )  # fmt: skip
