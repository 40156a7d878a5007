"""The log cap rule: newest whole lines kept under the cap, one marker counting what went."""

from __future__ import annotations

import pytest

from jobs_core.log_cap import cap_logs, marker

CASES = {
    "fits": ("a\nb\n", 10, "a\nb\n"),
    "exactly the cap": ("abcd\n", 5, "abcd\n"),
    "drops the oldest whole lines": (
        "".join(f"line {i}\n" for i in range(10)),
        60,  # the marker takes 38: 22 are left, so the half line 6 goes too
        marker(49) + "line 7\nline 8\nline 9\n",
    ),
    "a cut on a line boundary keeps that line": (
        "a" * 50 + "\n" + "c" * 40 + "\n",
        len(marker(51)) + 41,
        marker(51) + "c" * 40 + "\n",
    ),
    "a single line longer than the cap is cut inside": (
        "x" * 100 + "\n",
        40,
        marker(100 - (40 - len(marker(100))) + 1) + "x" * (40 - len(marker(100)) - 1) + "\n",
    ),
    "a cap smaller than the marker keeps only the tail": ("abcdef\n" * 3, 4, "def\n"),
}


@pytest.mark.parametrize(("text", "cap", "expected"), CASES.values(), ids=CASES.keys())
def test_cap_logs(text: str, cap: int, expected: str) -> None:
    capped = cap_logs(text, cap)
    assert capped == expected
    assert len(capped) <= cap


def test_cap_logs_again_keeps_one_marker_with_the_total() -> None:
    old = "".join(f"old {i}\n" for i in range(20))
    new = "".join(f"new {i}\n" for i in range(5))
    first = cap_logs(old, 60)
    again = cap_logs(first + new, 60)
    assert again.count("truncated]") == 1
    assert again.startswith("[... ") and again.endswith("new 4\n")
    dropped = int(again.split()[1])
    kept_lines = again.splitlines()[1:]
    assert dropped + sum(len(line) + 1 for line in kept_lines) == len(old) + len(new)
    assert len(kept_lines) > 1 and len(again) <= 60
