"""Pure formatting helpers: ages, durations, sizes, progress bars, masked fields."""

from __future__ import annotations

from jobs_core import from_ms

BAR_WIDTH = 10


def timestamp(ms: int | None) -> str:
    """A UTC timestamp as `YYYY-MM-DD HH:MM:SS`, or an empty string."""
    if ms is None:
        return ""
    return from_ms(ms).strftime("%Y-%m-%d %H:%M:%S")


def duration(ms: int | None) -> str:
    """A compact length of time: `850ms`, `12s`, `3m05s`, `2h10m`, `3d4h`."""
    if ms is None:
        return ""
    ms = max(0, ms)
    if ms < 1000:
        return f"{ms}ms"
    secs = ms // 1000
    if secs < 60:
        return f"{secs}s"
    if secs < 3600:
        return f"{secs // 60}m{secs % 60:02d}s"
    if secs < 86400:
        return f"{secs // 3600}h{secs % 3600 // 60:02d}m"
    return f"{secs // 86400}d{secs % 86400 // 3600}h"


def relative(ms: int | None, now: int) -> str:
    """`5m00s ago` for the past, `in 2h00m` for the future, empty for None."""
    if ms is None:
        return ""
    if ms <= now:
        return f"{duration(now - ms)} ago"
    return f"in {duration(ms - now)}"


def elapsed(started: int | None, now: int) -> str:
    """Time since a job started, empty when it has not."""
    return "" if started is None else duration(now - started)


def progress_bar(value: float | None, width: int = BAR_WIDTH) -> str:
    """A text progress bar such as `█████░░░░░  50%`; empty when there is no progress."""
    if value is None:
        return ""
    value = min(1.0, max(0.0, value))
    filled = round(value * width)
    return "█" * filled + "░" * (width - filled) + f" {value * 100:3.0f}%"


def size(num_bytes: int) -> str:
    """A file size in B, KiB, MiB or GiB."""
    amount = float(num_bytes)
    for unit in ("B", "KiB", "MiB"):
        if amount < 1024:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GiB"


def one_line(text: str | None, width: int = 60) -> str:
    """The first line of `text`, cut to `width` characters."""
    if not text:
        return ""
    line = text.splitlines()[0] if text.splitlines() else ""
    return line if len(line) <= width else line[: width - 1] + "…"
