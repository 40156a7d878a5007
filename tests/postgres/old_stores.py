"""Stores as an older version of jobs left them, for the migration tests."""

from __future__ import annotations

import asyncpg

from jobs_core.store.postgres.schema import MIGRATIONS
from tests.pg_server import PgServer


async def make_store_at(pg_server: PgServer, schema: str, version: int) -> None:
    """A store of schema version `version` in `schema`, its `finish_jobs` marked with a
    comment: a migration that makes the function again drops the mark."""
    conn = await asyncpg.connect(pg_server.url())
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"; SET search_path TO "{schema}"')
        await conn.execute("CREATE TABLE schema_version (version integer)")
        await conn.execute("INSERT INTO schema_version VALUES ($1)", version)
        for step in MIGRATIONS[:version]:
            await conn.execute(step)
        await conn.execute(f"COMMENT ON FUNCTION finish_jobs IS 'made by migration {version}'")
    finally:
        await conn.close()


def function_mark(pg_server: PgServer, schema: str, name: str, *, body: bool = False) -> str:
    """The comment on the schema's function `name` ('none' once it was made again), and
    with `body` its source after a space."""
    source = " || ' ' || p.prosrc" if body else ""
    return pg_server.psql(
        f"SELECT coalesce(obj_description(p.oid, 'pg_proc'), 'none'){source} FROM pg_proc p "
        f"JOIN pg_namespace n ON n.oid = p.pronamespace "
        f"WHERE n.nspname = '{schema}' AND p.proname = '{name}'"
    ).strip()


def finish_jobs_mark(pg_server: PgServer, schema: str) -> str:
    """The comment on the schema's `finish_jobs` ('none' once it was made again)."""
    return function_mark(pg_server, schema, "finish_jobs")
