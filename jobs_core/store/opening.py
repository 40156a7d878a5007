"""Opening a store by location: a `postgresql://` URL or a directory of SQLite files."""

from __future__ import annotations

from jobs_core.errors import StoreError
from jobs_core.settings import Settings

from .protocol import Store
from .url import is_store_url


def open_store(
    location: str, settings: Settings, *, create: bool = True, read_only: bool = False
) -> Store:
    """The store at `location`; the PostgreSQL driver is imported only for a URL.
    `read_only` (SQLite) opens every connection read-only."""
    if is_store_url(location):
        from .postgres import PostgresStore

        if read_only:
            raise StoreError(
                "a read-only store is not available on PostgreSQL yet: connect as a role "
                "with read-only rights instead"
            )
        return PostgresStore(location, settings=settings, create=create)
    from .sqlite.store import SqliteStore

    return SqliteStore(location, settings, create=create, read_only=read_only)
