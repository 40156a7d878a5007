"""The log cap rule: keep the newest whole lines of a job's logs under a size, and say so."""

from __future__ import annotations

import re

_MARKER = re.compile(r"\[\.\.\. (\d+) earlier characters truncated\]\n")


def marker(dropped: int) -> str:
    """The line that leads truncated logs, counting every character dropped so far."""
    return f"[... {dropped} earlier characters truncated]\n"


def cap_logs(text: str, max_chars: int) -> str:
    """`text` if it fits in `max_chars`, else a marker line and the newest whole lines.

    The cut falls at a line boundary, so no line is kept half; only a single line longer
    than the whole cap is cut inside. Logs capped before keep one marker, whose count grows.
    """
    if len(text) <= max_chars:
        return text
    earlier = 0
    body = text
    found = _MARKER.match(text)
    if found is not None:
        earlier, body = int(found[1]), text[found.end() :]
    budget = max_chars - len(marker(earlier + len(body)))
    if budget <= 0:
        return text[-max_chars:]  # a cap smaller than the marker: only the tail fits
    tail = body[-budget:]
    if len(body) > budget and body[-budget - 1] != "\n":
        newline = tail.find("\n")
        if 0 <= newline < len(tail) - 1:
            tail = tail[newline + 1 :]
    return marker(earlier + len(body) - len(tail)) + tail


def dropped_characters(logs: str) -> tuple[int, str]:
    """How many characters the cap dropped from `logs` so far, and the lines it kept (the
    text after its marker)."""
    found = _MARKER.match(logs)
    if found is None:
        return 0, logs
    return int(found[1]), logs[found.end() :]


def log_end(logs: str | None) -> int:
    """Characters ever written to logs that now read `logs` (the kept ones plus those the
    cap dropped): a position that later appends and truncations never move."""
    if not logs:
        return 0
    dropped, body = dropped_characters(logs)
    return dropped + len(body)
