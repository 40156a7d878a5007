"""A ledger: a file that job handlers in several processes append lines to, and tests read.

Each line goes in with one `os.write` on an `O_APPEND` descriptor, so the lines of different
processes never interleave and a SIGKILL leaves whole lines. A reader can still catch the
last line half written: Linux copies a write into the file a page at a time and a read does
not wait for the rest, so a line that crosses a 4 KiB boundary can show its first part alone
(caught by `test_a_concurrency_key_never_has_two_jobs_running`, whose ledger ends near 4 KiB).
`read_lines` therefore returns complete lines only; the rest is read next time.
"""

from __future__ import annotations

import os
from pathlib import Path


def append_line(path: str | os.PathLike[str], line: str) -> None:
    """Append `line` and its newline to the ledger at `path` with one write."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


def read_lines(path: str | os.PathLike[str]) -> list[str]:
    """The complete lines of the ledger at `path` (none if it does not exist yet): a last
    line without its newline is still being written, and is left out."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    complete, _, _ = data.rpartition(b"\n")
    return complete.decode().splitlines()
