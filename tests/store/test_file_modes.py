"""Secrets at rest: a store is created private (directory 0700, every database file and its
-wal/-shm 0600) whatever the umask, and loose modes of an existing store are reported with
the command that fixes them, never changed behind the owner's back."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from jobs_core import BackgroundJobs, ExposedFile
from tests.cli.conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]


def mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", ["022", "000"])
def test_new_store_is_private_whatever_the_umask(tmp_path: Path, umask: str) -> None:
    directory = tmp_path / "parent" / "store"
    probe = subprocess.run(
        [sys.executable, "-m", "tests.store.umask_probe", str(directory), umask],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    modes = json.loads(probe.stdout)
    month = next(name for name in modes if name.startswith("jobs_") and name.endswith(".db"))
    expected_files = {"jobs.db", "jobs.db-wal", "jobs.db-shm", month, month + "-wal"}
    assert expected_files <= set(modes), modes
    assert modes.pop(".") == 0o700
    assert {name: 0o600 for name in modes} == modes


async def test_loose_store_is_reported_with_its_fix_and_left_as_it_is(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    await BackgroundJobs(str(directory)).close()
    os.chmod(directory, 0o755)
    os.chmod(directory / "jobs.db", 0o644)
    jobs = BackgroundJobs(str(directory), start_engine=False)
    exposed = await jobs.exposed_files()
    await jobs.close()
    # SQLite gives the -wal and -shm files it creates the mode of their database.
    assert exposed == [
        ExposedFile(path=str(directory), mode=0o755, wanted_mode=0o700),
        *(
            ExposedFile(path=str(directory / name), mode=0o644, wanted_mode=0o600)
            for name in ("jobs.db", "jobs.db-shm", "jobs.db-wal")
        ),
    ]
    assert (mode(directory), mode(directory / "jobs.db")) == (0o755, 0o644)  # untouched
    report = run_cli("status", str(directory)).stdout
    assert "# WARNINGS: 4\n" in report
    assert f"  ! {directory} is open to other users (mode 755); fix: chmod 700 {directory}\n" in (
        report
    )
    assert f"fix: chmod 600 {directory / 'jobs.db'}\n" in report
    for item in exposed[:2]:  # the -wal and -shm went with the last connection
        subprocess.run(item.fix, shell=True, check=True)
    assert "WARNINGS" not in run_cli("status", str(directory)).stdout


async def test_new_month_file_of_a_loose_store_is_private(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    directory.mkdir(mode=0o755)
    jobs = BackgroundJobs(str(directory))
    os.chmod(directory / "jobs.db", 0o644)

    @jobs.command
    async def noop() -> None:
        return None

    async with jobs:
        await jobs.enqueue("noop")
        await jobs.run_until_idle()
        [month] = await jobs.months()
        assert (mode(month.path), mode(month.path + "-wal")) == (0o600, 0o600)
