"""Appending to a job's logs in SQL under the cap of `log_cap.cap_logs`."""

from __future__ import annotations

import sqlite3

from jobs_core.log_cap import cap_logs, log_end

END_FUNCTION = "jobs_log_end"
"""SQL function `jobs_log_end(logs)`: `log_cap.log_end`, the characters ever written to logs
(an attempt's mark in its job's logs)."""

CAP_FUNCTION = "jobs_cap_logs"
"""SQL function `jobs_cap_logs(text, max_chars)`: `log_cap.cap_logs`, registered on the
connections that append logs (`install_functions`)."""


def append_logs(row: str, new: str, max_log: str) -> tuple[str, str]:
    """SQL expressions for (logs, logs_truncated) after appending `new` to the logs of the
    row (`row` is its alias and a dot, or empty) under the cap `max_log`; the Python cap
    runs only for the rare append that overflows."""
    old = f"{row}logs"
    overflow = f"length({old}) + length({new}) > {max_log}"
    logs = (
        f"CASE WHEN {new} = '' THEN {old} WHEN {overflow} "
        f"THEN {CAP_FUNCTION}({old} || {new}, {max_log}) ELSE {old} || {new} END"
    )
    truncated = f"CASE WHEN {new} <> '' AND {overflow} THEN 1 ELSE {row}logs_truncated END"
    return logs, truncated


def install_functions(conn: sqlite3.Connection) -> None:
    """Register the SQL function the expressions of `append_logs` call (on every connection
    that runs them: the store's write connection)."""
    conn.create_function(CAP_FUNCTION, 2, cap_logs, deterministic=True)
    conn.create_function(END_FUNCTION, 1, log_end, deterministic=True)
