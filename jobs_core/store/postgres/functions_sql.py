"""The schema's SQL functions besides `finish_jobs` (finish_sql.py): the log cap and the
count of log characters ever written, twins of `log_cap`'s Python (a test compares them)."""

from __future__ import annotations

CAP_LOGS = r"""
CREATE FUNCTION cap_logs(body text, max_chars integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    head CONSTANT text := '[... ';
    foot CONSTANT text := ' earlier characters truncated]' || E'\n';
    earlier numeric := 0;
    rest text := body;
    found text[];
    budget integer;
    tail text;
    newline integer;
BEGIN
    IF length(body) <= max_chars THEN
        RETURN body;
    END IF;
    found := regexp_match(body, '^\[\.\.\. (\d+) earlier characters truncated\]\n');
    IF found IS NOT NULL THEN
        earlier := found[1]::numeric;
        rest := substr(body, length(head || found[1] || foot) + 1);
    END IF;
    budget := max_chars - length(head || (earlier + length(rest)) || foot);
    IF budget <= 0 THEN
        RETURN right(body, max_chars);  -- a cap smaller than the marker: only the tail fits
    END IF;
    tail := right(rest, budget);
    IF length(rest) > budget AND substr(rest, length(rest) - budget, 1) <> E'\n' THEN
        newline := strpos(tail, E'\n');
        IF newline >= 1 AND newline < length(tail) THEN
            tail := substr(tail, newline + 1);
        END IF;
    END IF;
    RETURN head || (earlier + length(rest) - length(tail)) || foot || tail;
END
$$;
"""
"""`log_cap.cap_logs` in PL/pgSQL (the same rule, character for character; a test compares
them): called only for an append that overflows the cap."""


LOG_END = r"""
CREATE FUNCTION log_end(body text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce((regexp_match(body, '^\[\.\.\. (\d+) earlier'))[1]::bigint, 0)
        + length(body) - coalesce(length(substring(
            body from '^\[\.\.\. (?:\d+) earlier characters truncated\]\n')), 0)
$$;
"""
"""`log_cap.log_end` in SQL: the characters ever written to logs (the kept ones plus those
the cap counted in its marker)."""
