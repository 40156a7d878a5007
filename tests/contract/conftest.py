"""The contract suite: every test here runs on each backend, SQLite and PostgreSQL.

`store_dir` (the store location every facade of a test opens) is a fresh directory for
`sqlite` and a URL on a fresh schema of the session's private server for `postgres`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import pg_url

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_dir(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The test's store location: a directory, or a `postgresql://` URL."""
    if backend == "sqlite":
        return str(tmp_path / "jobs_data")
    return pg_url(request.getfixturevalue("pg_server"))
