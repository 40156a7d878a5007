"""The testing helpers' fixtures on both backends: the plugin's `jobs_dir` is the test's
store location (`isolated` takes a directory or a `postgresql://` URL)."""

from __future__ import annotations

import pytest


@pytest.fixture
def jobs_dir(store_dir: str) -> str:
    return store_dir
