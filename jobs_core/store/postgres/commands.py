"""Command declarations on PostgreSQL: what the engines that run each command declared."""

from __future__ import annotations

from jobs_core.records import CommandDefinition
from jobs_core.store.rows import COMMAND_COLUMNS, command_definition, command_values

from .connection import Conn
from .rows import columns

# Names in one order, so two engines declaring the same commands never deadlock.
DECLARE = f"""
INSERT INTO job_command AS c ({COMMAND_COLUMNS})
SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::float8[], $5::text[],
    $6::jsonb[], $7::text[], $8::bigint[], $9::text[]) ORDER BY 1
ON CONFLICT (name) DO UPDATE SET worker = excluded.worker, retry_limit = excluded.retry_limit,
    timeout_secs = excluded.timeout_secs, request_type = excluded.request_type,
    request_shape = excluded.request_shape, declared_by = excluded.declared_by,
    declared_at = excluded.declared_at, flow = excluded.flow
WHERE excluded.declared_at >= c.declared_at
"""

SELECT = f"""
SELECT {COMMAND_COLUMNS.replace("request_shape", "request_shape::text")}
FROM job_command ORDER BY name
"""


async def declare(conn: Conn, definitions: list[CommandDefinition]) -> None:
    """Upsert `definitions`; an older declaration never replaces a newer one."""
    if not definitions:
        return
    await conn.execute(DECLARE, *columns([command_values(d) for d in definitions], 9))


async def declared(conn: Conn) -> list[CommandDefinition]:
    """Every declared command, by name."""
    return [command_definition(row) for row in await conn.fetch(SELECT)]
