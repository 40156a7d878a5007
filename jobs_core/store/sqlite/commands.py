"""Command declarations on SQLite: what the engines that run each command declared."""

from __future__ import annotations

import sqlite3

from jobs_core.records import CommandDefinition
from jobs_core.store.rows import COMMAND_COLUMNS, command_definition, command_values

DECLARE = f"""
INSERT INTO job_command ({COMMAND_COLUMNS})
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET worker = excluded.worker, retry_limit = excluded.retry_limit,
    timeout_secs = excluded.timeout_secs, request_type = excluded.request_type,
    request_shape = excluded.request_shape, declared_by = excluded.declared_by,
    declared_at = excluded.declared_at, flow = excluded.flow
WHERE excluded.declared_at >= job_command.declared_at
"""

SELECT = f"SELECT {COMMAND_COLUMNS} FROM job_command ORDER BY name"


def declare(conn: sqlite3.Connection, definitions: list[CommandDefinition]) -> None:
    """Upsert `definitions`; an older declaration never replaces a newer one."""
    conn.executemany(DECLARE, [command_values(d) for d in definitions])


def declared(conn: sqlite3.Connection) -> list[CommandDefinition]:
    """Every declared command, by name."""
    return [command_definition(row) for row in conn.execute(SELECT)]
