"""A full disk under a running engine: claims, outcomes, activity, heartbeats and archiving
fail clearly, are retried with growing pauses (no busy loop, no log flood), nothing is
lost, and every job completes exactly once when space returns."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.engine.full_disk_scenario import GROUPS

ROOT = Path(__file__).resolve().parents[2]
FULL = r"cannot write .*{file}: (database or disk is full|disk I/O error) \(is the disk full\?\)"


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("full_disk") / "store"
    run = subprocess.run(
        [sys.executable, "-m", "tests.engine.full_disk_scenario", str(directory)],
        cwd=ROOT, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout)
    return result


def test_full_disk_fails_every_engine_write_clearly(outcome: dict[str, Any]) -> None:
    failures = outcome["failures"]
    assert {"enqueue", "claim", "finish", "record_activity", "heartbeat"} <= set(failures)
    assert re.fullmatch(FULL.format(file=r"jobs\.db"), outcome["refused"])
    [month_error] = outcome["month_errors_during_outage"]
    assert re.fullmatch(FULL.format(file=r"jobs_\d{4}-\d{2}\.db"), month_error)
    assert outcome["completed_during_outage"] == GROUPS["quick"]


def test_full_disk_is_retried_with_pauses_and_logged_once_per_trouble(
    outcome: dict[str, Any],
) -> None:
    assert outcome["cpu_secs_during_outage"] < 0.5  # a busy loop would spin for the whole 3.5 s
    errors = [line for line in outcome["log"] if line.startswith("ERROR")]
    assert len(errors) == 3, errors  # store writes, heartbeat, the month file: once each
    assert any("writing to the store works again" in line for line in outcome["log"])
    assert any("heartbeat works again" in line for line in outcome["log"])


def test_after_a_full_disk_every_job_completes_exactly_once_with_its_logs(
    outcome: dict[str, Any],
) -> None:
    assert [n for _, n in outcome["executions"]] == [1] * sum(GROUPS.values())
    assert [i for i, _ in outcome["executions"]] == outcome["ids"]
    for group, states in outcome["states"].items():
        assert states == ["completed"] * GROUPS[group], group
    steps = {
        "quick": ["first step"],
        "log_during": ["first step", "second step", "third step"],
        "finish_during": ["first step", "second step"],
        "due_during": ["first step"],
    }
    for group, logs in outcome["logs"].items():
        for text in logs:
            assert [line.split(" INFO ")[1] for line in text.splitlines()] == steps[group]
