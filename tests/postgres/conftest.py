"""Fixtures of the PostgreSQL-only tests: a URL on a fresh schema of the private server."""

from __future__ import annotations

import pytest

from tests.conftest import pg_url
from tests.pg_server import PgServer


@pytest.fixture
def store_url(pg_server: PgServer) -> str:
    """A `postgresql://` URL (with a password) on a schema no other test uses."""
    return pg_url(pg_server)


@pytest.fixture
def store_dir(store_url: str) -> str:
    """`make_jobs` opens facades on the test's PostgreSQL store."""
    return store_url
