"""Migrating a PostgreSQL store: the numbered steps of `schema.py` applied in order under an
advisory lock, a newer schema or a foreign one refused, and the checks of a read-only open."""

from __future__ import annotations

from jobs_core.errors import SchemaTooNewError, StoreError, StoreNotFoundError

from .connection import Conn
from .schema import LATEST_VERSION, MIGRATIONS

MIGRATION_LOCK = "jobs migration"
"""Text whose hash keys the advisory lock that serialises migrations of one schema."""


async def migrate(conn: Conn, schema: str, display: str, *, create: bool) -> None:
    """Bring `schema` to the latest version, or refuse a newer one or a foreign schema.

    Two processes starting at once do not race: the work happens under a session advisory
    lock, and the version is read again once it is held.
    """
    version = await _version(conn, schema, display)
    if version == LATEST_VERSION:
        return
    _check(version, schema, display, create)
    key = f"{MIGRATION_LOCK} {schema}"
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", key)
    try:
        version = await _version(conn, schema, display)
        _check(version, schema, display, create)
        if version is None:
            async with conn.transaction():
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                await conn.execute(f'CREATE TABLE "{schema}".schema_version (version integer)')
                await conn.execute(f'INSERT INTO "{schema}".schema_version VALUES (0)')
            version = 0
        for number in range(version + 1, LATEST_VERSION + 1):
            async with conn.transaction():
                await conn.execute(f'SET LOCAL search_path TO "{schema}"')
                await conn.execute(MIGRATIONS[number - 1])
                await conn.execute(f'UPDATE "{schema}".schema_version SET version = $1', number)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)


async def check_version(conn: Conn, schema: str, display: str) -> None:
    """Refuse a store a read-only open cannot use: none there, an older or a newer schema."""
    version = await _version(conn, schema, display)
    if version is None:
        raise StoreNotFoundError(
            f"{display} is not a jobs store (it has no schema '{schema}'); a read-only open "
            "creates none"
        )
    _check(version, schema, display, create=False)
    if version < LATEST_VERSION:
        raise StoreError(
            f"{display} has schema version {version}; this version of jobs needs "
            f"{LATEST_VERSION} and a read-only open does not migrate: open it once without "
            "read-only to upgrade"
        )


def _check(version: int | None, schema: str, display: str, create: bool) -> None:
    if version is not None and version > LATEST_VERSION:
        raise SchemaTooNewError(
            f"{display} has schema version {version}, newer than this version of jobs "
            f"understands ({LATEST_VERSION}); upgrade jobs to open it"
        )
    if version is None and not create:
        raise StoreNotFoundError(f"{display} is not a jobs store (it has no schema '{schema}')")


VERSION_PROBE = """
SELECT to_regclass($2) IS NOT NULL AS versioned,
       (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')) AS tables
"""


async def _version(conn: Conn, schema: str, display: str) -> int | None:
    """The store's schema version, or None when the schema has no store yet."""
    row = await conn.fetchrow(VERSION_PROBE, schema, f'"{schema}".schema_version')
    assert row is not None  # a SELECT without FROM has one row
    if row["versioned"]:
        return int(await conn.fetchval(f'SELECT version FROM "{schema}".schema_version'))
    if row["tables"]:
        raise StoreError(f"{display}: schema '{schema}' holds other tables; it is not a jobs store")
    return None
