"""Connecting to PostgreSQL, and turning driver errors into ours (credentials never shown)."""

from __future__ import annotations

import asyncio
from typing import Any, TypeAlias

import asyncpg
import asyncpg.pool

from jobs_core.errors import (
    ReadOnlyStoreError,
    StoreAuthenticationError,
    StoreError,
    StoreNotFoundError,
    StoreUnavailableError,
)
from jobs_core.store.url import StoreUrl, mask_urls_in

Conn: TypeAlias = (
    "asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
)
"""A connection of its own or one lent by the pool: the SQL modules take either."""

CONNECT_TIMEOUT_SECS = 10.0
STATEMENT_CACHE = 512
APPLICATION_NAME = "jobs"

CONNECTION_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.AdminShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.CrashShutdownError,
    OSError,
    asyncio.TimeoutError,
)
"""Errors meaning the server went away (restart, network, terminated backend)."""

RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
"""Errors after which the same transaction may simply be run again."""


class MissingPartitionError(StoreError):
    """A finished job's month has no partition (not created yet by this process, or
    detached or dropped by an operator): the store creates it and writes again."""


def connect_kwargs(url: StoreUrl) -> dict[str, Any]:
    """Keyword arguments for `asyncpg.connect` and `create_pool` on the store's schema."""
    return {
        "dsn": url.dsn,
        "timeout": CONNECT_TIMEOUT_SECS,
        "statement_cache_size": STATEMENT_CACHE,
        "server_settings": {
            "search_path": f'"{url.schema}"',
            "application_name": APPLICATION_NAME,
            # The claim's plan is estimated from a whole backlog (costs in the millions with
            # 100k queued) although it touches a batch: with JIT on, the server compiled it on
            # every claim (4.5 s each, measured in bench/soak.py), so engines starved.
            "jit": "off",
        },
    }


async def connect(url: StoreUrl) -> asyncpg.Connection:
    """One connection on the store's schema, or our error naming the (masked) URL."""
    try:
        return await asyncpg.connect(**connect_kwargs(url))
    except Exception as error:
        raise translate(error, url.display) from None


def translate(error: BaseException, display: str) -> StoreError:
    """Our error for a driver or socket error, naming the store and what went wrong."""
    if isinstance(error, StoreError):
        return error
    text = mask_urls_in(_describe(error))
    if isinstance(
        error, (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)
    ):
        return StoreAuthenticationError(f"{display}: the server refused the login: {text}")
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return StoreNotFoundError(f"{display}: {text}")
    if isinstance(error, asyncpg.InvalidSchemaNameError | asyncpg.UndefinedTableError):
        return StoreNotFoundError(f"{display}: {text} (was the jobs schema dropped?)")
    if isinstance(error, asyncpg.ReadOnlySQLTransactionError):
        return ReadOnlyStoreError(f"{display} is open read-only: nothing can be changed")
    if isinstance(error, asyncpg.CheckViolationError) and "no partition" in text:
        return MissingPartitionError(f"{display}: {text}")
    if isinstance(error, asyncpg.InsufficientPrivilegeError):
        return StoreError(f"{display}: permission denied: {text}")
    if isinstance(error, CONNECTION_LOST):
        return StoreUnavailableError(f"cannot reach {display}: {text}")
    return StoreError(f"{display}: {text}")


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    if isinstance(error, asyncio.TimeoutError | TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_SECS:g}s"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return " ".join(text.split())
