"""The chaos suite runs on each backend, like the contract suite: `store_dir` is a fresh
directory for `sqlite` and a URL on a fresh schema of the private server for `postgres`."""

from __future__ import annotations

from tests.contract.conftest import backend, store_dir

__all__ = ["backend", "store_dir"]
