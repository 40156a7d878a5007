"""What the archive's full-text index holds of a job: the `search` tsvector of a row of
`completed_job` and `failed_job`, computed by the statements that insert those rows.

Up to schema version 7 it was a generated column. The server reads a generated column's
expression from its catalogue text again at every execution of an INSERT (`stringToNode`
and the expression planner, ~70 µs a statement, measured with perf on a finish of one
job); written into the INSERT, it is planned once with the statement."""

from __future__ import annotations

SEARCH_TEXT = (
    "command || ' ' || coalesce(tag, '') || ' ' || coalesce(error ->> 'code', '') || ' ' || "
    "coalesce(error ->> 'message', '') || ' ' || coalesce(error ->> 'stack', '') || ' ' || "
    "coalesce(status, '') || ' ' || left(request_body, 100000) || ' ' || "
    "coalesce(left(response_body, 100000), '') || ' ' || left(logs, 200000)"
)
"""The text indexed of a job row (bodies and logs cut at 100,000 and 200,000 characters: a
tsvector is limited to 1 MB), its columns unqualified."""

SEARCH_VECTOR = f"to_tsvector('simple', {SEARCH_TEXT})"
"""The `search` value of a job row (every INSERT into the archive tables writes it)."""
