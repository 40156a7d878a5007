"""Opening a store by location: a `postgresql://` URL or a directory of SQLite files."""

from __future__ import annotations

import os

from jobs_core.errors import InvalidOptionError
from jobs_core.settings import Settings

from .protocol import Store
from .url import foreign_scheme, is_store_url


def open_store(
    location: str, settings: Settings, *, create: bool = True, read_only: bool = False
) -> Store:
    """The store at `location`; the PostgreSQL driver is imported only for a URL.

    `read_only`: nothing is created, migrated or written (every change raises
    ReadOnlyStoreError)."""
    if is_store_url(location):
        from .postgres import PostgresStore

        return PostgresStore(location, settings=settings, create=create, read_only=read_only)
    scheme = foreign_scheme(location)
    if scheme is not None and not os.path.isdir(location):
        # Only the scheme is quoted: the rest of an unknown URL may hold a password.
        raise InvalidOptionError(
            f"a store is a directory or a postgresql:// URL, not a {scheme}:// URL"
        )
    from .sqlite.store import SqliteStore

    return SqliteStore(location, settings, create=create, read_only=read_only)
