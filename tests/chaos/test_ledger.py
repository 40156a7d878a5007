"""The ledger the chaos and cross-process tests read: only complete lines count."""

from __future__ import annotations

from pathlib import Path

from tests.ledger import append_line, read_lines


def test_a_line_still_being_written_is_left_for_the_next_read(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.txt"
    assert read_lines(ledger) == []  # no job has run yet
    append_line(ledger, "start 1 default user:1 1000 1000 42")
    with ledger.open("ab") as half_written:  # a reader can see a write's first page alone
        half_written.write(b"end 1 def")
    assert read_lines(ledger) == ["start 1 default user:1 1000 1000 42"]
    with ledger.open("ab") as rest:
        rest.write(b"ault user:1 1015 1000 42\n")
    assert read_lines(ledger)[-1] == "end 1 default user:1 1015 1000 42"
