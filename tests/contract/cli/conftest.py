"""The CLI tests' fixtures on both backends: `store` is an existing directory or URL."""

from __future__ import annotations

import pytest

from tests.cli.conftest import admin, cli, start_worker
from tests.conftest import create_store

__all__ = ["admin", "cli", "start_worker"]


@pytest.fixture
def store(store_dir: str) -> str:
    """An empty, existing store on the test's backend."""
    create_store(store_dir)
    return store_dir
