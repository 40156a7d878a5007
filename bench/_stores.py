"""Where the benchmarks keep their stores: temporary directories, or schemas on PostgreSQL.

`--store` absent: SQLite directories beside the repository. `--store pg`: a private
PostgreSQL server started for the run the way the tests start one (here with the server's
default durability: fsync and synchronous_commit on). `--store postgresql://...`: fresh
schemas on that server, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from _common import REPO, data_dir

from jobs_core.store.url import is_store_url, parse_store_url

if REPO not in sys.path:
    sys.path.insert(0, REPO)  # for tests.pg_server, the launcher the tests use

NO_SYNC = "synchronous_commit=off"
"""What `NORMAL` means on PostgreSQL: commits do not wait for the WAL flush (a server crash
may lose the last few hundred ms; an application crash loses nothing)."""


class Stores:
    """Fresh store locations of one kind for a benchmark run."""

    def __init__(self, spec: str | None, parent: str | None) -> None:
        self.spec = spec
        self.parent = parent
        self.server: Any = None
        self.base: str | None = None
        if spec == "pg":
            from tests.pg_server import start_server

            self.server = start_server(durable=True)
            self.base = self.server.url()
        elif spec is not None:
            if not is_store_url(spec):
                raise SystemExit(f"--store: expected 'pg' or a postgresql:// URL, got {spec!r}")
            self.base = spec

    @property
    def backend(self) -> str:
        return "sqlite" if self.base is None else "postgres"

    @contextmanager
    def fresh(self, prefix: str, durability: str = "NORMAL") -> Iterator[str]:
        """A new, empty store location; removed afterwards."""
        if self.base is None:
            with data_dir(self.parent, prefix) as directory:
                yield directory
            return
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        sep = "&" if "?" in self.base else "?"
        url = f"{self.base}{sep}schema={schema}"
        if durability == "NORMAL":
            url += f"&{NO_SYNC}"
        try:
            yield url
        finally:
            # The benchmarks call this inside their event loop: drop from a thread of its own.
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, _drop_schema(self.base, schema)).result()

    def describe(self) -> str:
        if self.base is None:
            return "SQLite directories"
        version = ""
        if self.server is not None:
            version = self.server.psql("SHOW server_version").strip()
        where = "a private server" if self.server is not None else "the given server"
        return f"PostgreSQL {version} ({where}, {os.cpu_count()} CPUs shared with it)"

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


async def _drop_schema(base: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(parse_store_url(base).dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()
