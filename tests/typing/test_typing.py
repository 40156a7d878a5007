"""The typed handles hold under mypy: wrong requests and options are errors, results inferred."""

from __future__ import annotations

import re
from pathlib import Path

from mypy import api

CASES = Path(__file__).with_name("cases_handles.py")
EXPECTED = re.compile(r"#\s*E:\s*([\w-]+)\s*$")
REPORTED = re.compile(r"^[^:]+:(\d+): error: .*\[([\w-]+)\]$")


def expected_errors() -> set[tuple[int, str]]:
    lines = CASES.read_text().splitlines()
    return {
        (number, match.group(1))
        for number, line in enumerate(lines, start=1)
        if (match := EXPECTED.search(line))
    }


def test_typing_handles_reject_wrong_requests_and_infer_results() -> None:
    stdout, stderr, _ = api.run(["--strict", "--no-error-summary", str(CASES)])
    reported = {
        (int(m.group(1)), m.group(2)) for line in stdout.splitlines() if (m := REPORTED.match(line))
    }
    unexpected = sorted(reported - expected_errors())
    missing = sorted(expected_errors() - reported)
    assert not unexpected and not missing, (
        f"unexpected errors {unexpected}, missing errors {missing}\n{stdout}{stderr}"
    )
    assert len(expected_errors()) >= 12
