"""`--app module:object` loading, in process; and that non-TUI commands never load Textual."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs_cli.common import APP_DIR_ENV, CliError, load_app
from tests.cli.conftest import REPO

INSTANCE_MODULE = "tests.cli.instance_app"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(APP_DIR_ENV, raising=False)
    monkeypatch.delitem(sys.modules, INSTANCE_MODULE, raising=False)
    yield
    module = sys.modules.get(INSTANCE_MODULE)
    if module is not None:
        # Close the store the module opened at import, so no connection outlives the test.
        asyncio.run(module.app.close())


async def test_load_app_calls_factory_with_directory(store: str) -> None:
    jobs = load_app("tests.cli.sample_app:app", store)
    try:
        assert "greet" in jobs.registry
        assert getattr(jobs.store, "directory", None) == store
    finally:
        await jobs.close()


def test_load_app_accepts_module_level_instance(clean_env: None, tmp_path: Path) -> None:
    jobs = load_app(f"{INSTANCE_MODULE}:app", str(tmp_path))
    assert "ping" in jobs.registry


def test_load_app_refuses_instance_on_another_store(clean_env: None, tmp_path: Path) -> None:
    load_app(f"{INSTANCE_MODULE}:app", str(tmp_path / "a"))
    with pytest.raises(CliError) as raised:
        load_app(f"{INSTANCE_MODULE}:app", str(tmp_path / "b"))
    assert str(raised.value) == (
        f"--app '{INSTANCE_MODULE}:app': its store is {tmp_path / 'a'}, not {tmp_path / 'b'}"
    )


def test_cli_commands_do_not_import_textual() -> None:
    code = "import sys, jobs_cli.main; print(sorted(m for m in sys.modules if 'textual' in m))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=30,
        check=True,
    )  # fmt: skip
    assert result.stdout == "[]\n"
