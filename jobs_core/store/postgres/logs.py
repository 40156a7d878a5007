"""Appending to a job's logs in SQL under the cap of `log_cap.cap_logs` (the schema's
`cap_logs` function, the same rule in PL/pgSQL)."""

from __future__ import annotations


def append_logs(row: str, new: str, max_log: str) -> tuple[str, str]:
    """SQL expressions for (logs, logs_truncated) after appending `new` to the logs of the
    row (`row` is its alias and a dot, or empty) under the cap `max_log`; the capping
    function runs only for the rare append that overflows."""
    old = f"{row}logs"
    # octet_length first: it reads the size without counting characters, and a text of
    # at most `max_log` bytes has at most `max_log` characters.
    overflow = (
        f"(octet_length({old}) + octet_length({new}) > {max_log} "
        f"AND length({old}) + length({new}) > {max_log})"
    )
    logs = (
        f"CASE WHEN {new} = '' THEN {old} WHEN {overflow} "
        f"THEN cap_logs({old} || {new}, {max_log}) ELSE {old} || {new} END"
    )
    truncated = f"CASE WHEN {new} <> '' AND {overflow} THEN true ELSE {row}logs_truncated END"
    return logs, truncated
