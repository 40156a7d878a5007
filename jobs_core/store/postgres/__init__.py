"""The PostgreSQL backend: a store shared by engines on many hosts (`PostgresStore`)."""

from .store import PostgresStore

__all__ = ["PostgresStore"]
