"""The schema's `finish_jobs` function: a batch of outcomes applied in one round trip.

Its statements each take a fresh snapshot (a VOLATILE function's do, under READ COMMITTED):
the first applies the transitions; the next ones release or cancel dependents, and count.
Those must see children enqueued by transactions that held their parent's summary row while
the first waited on it (`queue.PARENT_STATES`), which one statement's single snapshot would
not. Called as one statement, it needs no BEGIN and COMMIT of its own: one round trip where
a transaction of two statements took four.

A job that ends (completed, failed, cancelled) leaves the live table in the first statement:
its row is deleted there and written, final, into its month's partition. Dependents the
second statement cancels stay in the live table until the archive pass moves them (rare).
"""

from __future__ import annotations

from jobs_core.figures import DURATION_BOUNDS_MS, NO_DURATION

from .logs import append_logs

TRANSITION_COLUMNS = (
    "id bigint", "state text", "guard text", "run_after bigint", "completed_date bigint",
    "duration_ms bigint", "response_type text", "response_body text", "error text", "logs text",
    "progress float8", "status text", "notified boolean", "refund integer",
)  # fmt: skip
"""The transition arrays `finish_jobs` takes, after the log cap, now and the channel; an
array passed as NULL leaves its column at its default for every job (NULL, or '' for logs,
false for notified, 0 for refund)."""
_NAMES = [c.split()[0] for c in TRANSITION_COLUMNS]
_DEFAULTS = {"logs": "''", "notified": "false", "refund": "0"}

_LOGS, _TRUNCATED = append_logs("b.", "t.logs", "p_max_log")
CHANGED = {
    "state": "t.state", "owner": "NULL", "attempts": "b.attempts - t.refund",
    "run_after": "coalesce(t.run_after, b.run_after)", "completed_date": "t.completed_date",
    "duration_ms": "coalesce(t.duration_ms, b.duration_ms)",
    "response_type": "coalesce(t.response_type, b.response_type)",
    "response_body": "coalesce(t.response_body, b.response_body)", "error": "t.error::jsonb",
    "logs": _LOGS, "logs_truncated": _TRUNCATED, "progress": "coalesce(t.progress, b.progress)",
    "status": "coalesce(t.status, b.status)",
    "notified_date": "CASE WHEN t.notified THEN p_now ELSE b.notified_date END",
    "last_activity_date": "p_now",
}  # fmt: skip
"""A job row's columns after its transition `t` (the rest stay as they are in `b`)."""

_ENDING = "state IN ('completed', 'failed', 'cancelled')"
_APPLIES = """b.id = t.id AND (t.guard IS NULL OR b.owner = t.guard)
          AND b.state NOT IN ('completed', 'failed', 'cancelled')"""
_SUMMARY = "id, state, started_date, completed_date, duration_ms, attempts, response_type, error"
BUCKET = (
    f"CASE WHEN duration_ms IS NULL THEN {NO_DURATION} "
    + " ".join(f"WHEN duration_ms < {bound} THEN {i}" for i, bound in enumerate(DURATION_BOUNDS_MS))
    + f" ELSE {len(DURATION_BOUNDS_MS)} END"
)
"""The duration bucket (`jobs_core.figures`) of a job row's `duration_ms`."""


def _tally(source: str) -> str:
    """A CTE body adding the jobs of `source` (rows with command, state, duration_ms) to the
    per-minute tallies; rows upserted in key order, the same in every transaction."""
    return f"""
        INSERT INTO command_minute AS m (minute, command, state, bucket, n, total_ms)
        SELECT p_now - p_now % 60000, command, state, {BUCKET}, count(*),
            coalesce(sum(duration_ms), 0)
        FROM {source} GROUP BY 2, 3, 4 ORDER BY 2, 3, 4
        ON CONFLICT (minute, command, state, bucket)
        DO UPDATE SET n = m.n + excluded.n, total_ms = m.total_ms + excluded.total_ms"""


_FLOW_SUMMARY = _SUMMARY + ", queue, concurrency_key"

_FLOW_COLLECT = """,
        coalesce(array_agg(queue) FILTER (WHERE state IN ('completed', 'failed', 'cancelled')),
                 '{}'),
        coalesce(array_agg(state) FILTER (WHERE state IN ('completed', 'failed', 'cancelled')),
                 '{}'),
        coalesce(array_agg(concurrency_key) FILTER (WHERE concurrency_key IS NOT NULL), '{}')"""

_FLOW_DECLARE = """
    v_queues text[] := '{}';
    v_states text[] := '{}';
    v_keys text[] := '{}';
    v_cancelled_queues text[] := '{}';"""

_FLOW_AFTER = """
    -- Flow control: finishes per queue and minute (rows locked in one order: no deadlock),
    -- and the first parked jobs of each key whose job left the started state let back (a
    -- claim parks them again if the key is still at its limit).
    IF cardinality(v_queues) > 0 OR cardinality(v_cancelled_queues) > 0 THEN
        INSERT INTO queue_minute (queue, minute, state, n)
        SELECT d.queue, p_now - p_now % 60000, d.state, count(*) FROM (
            SELECT * FROM unnest(v_queues, v_states) AS f(queue, state)
            UNION ALL
            SELECT c.queue, 'cancelled' FROM unnest(v_cancelled_queues) AS c(queue)) AS d
        GROUP BY d.queue, d.state ORDER BY d.queue, d.state
        ON CONFLICT (queue, minute, state) DO UPDATE SET n = queue_minute.n + excluded.n;
    END IF;
    IF cardinality(v_keys) > 0 THEN
        UPDATE background_job SET key_parked = false
        WHERE id = ANY(ARRAY(
            SELECT p.id FROM (SELECT DISTINCT k FROM unnest(v_keys) AS k) AS f
            CROSS JOIN LATERAL (
                SELECT id FROM background_job
                WHERE concurrency_key = f.k AND key_parked AND state = 'queued'
                ORDER BY priority DESC, run_after, id
                LIMIT (SELECT max(n) FROM (SELECT count(*) AS n FROM unnest(v_keys) AS k
                                            GROUP BY k) AS m)) AS p));
    END IF;
"""


def finish_function(job_fields: list[str], *, flow: bool = False) -> str:
    """DDL of `finish_jobs` for job tables with columns `job_fields`; with `flow` (schema
    version 2) it also does the flow-control bookkeeping and replaces the earlier one."""
    columns = ", ".join(job_fields)
    summary = _FLOW_SUMMARY if flow else _SUMMARY
    final_row = ", ".join(f"{CHANGED.get(f, 'b.' + f)} AS {f}" for f in job_fields)
    params = ", ".join(f"p_{c.split()[0]} {c.split()[1]}[]" for c in TRANSITION_COLUMNS)
    read = ", ".join(
        f"coalesce(u.{n}, {_DEFAULTS[n]}) AS {n}" if n in _DEFAULTS else f"u.{n}" for n in _NAMES
    )
    # Rows are found by primary key (`= ANY(ARRAY(...))`): joined to the transitions, which
    # the planner cannot size, an empty part would scan the whole live table.
    return f"""
CREATE {"OR REPLACE " if flow else ""}FUNCTION finish_jobs(
    p_max_log integer, p_now bigint, p_channel text, {params},
    OUT applied_ids bigint[], OUT released_ids bigint[], OUT cancelled_ids bigint[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_completed bigint[];
    v_stopped bigint[];
    v_counts bigint[];{_FLOW_DECLARE if flow else ""}
BEGIN
    WITH t AS (
        SELECT {read}
        FROM unnest({", ".join("p_" + n for n in _NAMES)}) AS u({", ".join(_NAMES)})
    ), ended AS (
        DELETE FROM background_job AS b USING t
        WHERE b.id = ANY(ARRAY(SELECT id FROM t WHERE {_ENDING}))
          AND {_APPLIES}
        RETURNING {final_row}
    ), completed AS (
        INSERT INTO completed_job ({columns})
        SELECT {columns} FROM ended WHERE state = 'completed'
    ), failed AS (
        INSERT INTO failed_job ({columns})
        SELECT {columns} FROM ended WHERE state <> 'completed'
    ), tallied AS ({_tally("ended")}
    ), changed AS (
        UPDATE background_job AS b
        SET {", ".join(f"{f} = {e}" for f, e in CHANGED.items())}, cancel_requested = false
        FROM t
        WHERE b.id = ANY(ARRAY(SELECT id FROM t WHERE NOT {_ENDING}))
          AND {_APPLIES}
        RETURNING {", ".join("b." + f for f in summary.split(", "))}
    ), applied AS (
        SELECT {summary} FROM ended UNION ALL SELECT {summary} FROM changed
    ), summary AS (
        UPDATE job_summary AS s
        SET state = a.state, started_date = a.started_date, completed_date = a.completed_date,
            duration_ms = a.duration_ms, attempts = a.attempts, response_type = a.response_type,
            error_code = a.error ->> 'code', error_message = a.error ->> 'message'
        FROM applied AS a WHERE s.id = a.id
    )
    SELECT coalesce(array_agg(id), '{{}}'),
        coalesce(array_agg(id) FILTER (WHERE state = 'completed'), '{{}}'),
        coalesce(array_agg(id) FILTER (WHERE state IN ('failed', 'cancelled')), '{{}}'),
        ARRAY[count(*) FILTER (WHERE state = 'cancelled'),
              count(*) FILTER (WHERE state = 'completed'),
              count(*) FILTER (WHERE state = 'failed')]{_FLOW_COLLECT if flow else ""}
    INTO applied_ids, v_completed, v_stopped, v_counts{
        ", v_queues, v_states, v_keys" if flow else ""
    }
    FROM applied;

    -- Most stores have no job waiting on another: one probe of the partial index of waiting
    -- jobs (ORDER BY makes it the plan even before the table has statistics) then spares
    -- the release and the cancellation.
    released_ids := '{{}}';
    cancelled_ids := '{{}}';
    PERFORM waiting_on FROM background_job WHERE waiting_on IS NOT NULL
    ORDER BY waiting_on LIMIT 1;
    IF FOUND THEN
        WITH RECURSIVE released AS (
            UPDATE background_job SET waiting_on = NULL
            WHERE waiting_on IS NOT NULL AND waiting_on = ANY(v_completed) RETURNING id
        ), dependent(id) AS (
            SELECT id FROM background_job
            WHERE waiting_on IS NOT NULL AND waiting_on = ANY(v_stopped)
            UNION
            SELECT b.id FROM background_job b JOIN dependent d ON b.waiting_on = d.id
        ), cancelled AS (
            UPDATE background_job AS b
            SET state = 'cancelled', waiting_on = NULL, completed_date = p_now,
                last_activity_date = p_now,
                error = jsonb_build_object('code', 'DependencyFailed', 'message',
                    'cancelled because job ' || b.depends_on || ' it depends on did not complete',
                    'stack', '', 'field_errors', '{{}}'::jsonb)
            WHERE b.id = ANY(ARRAY(SELECT id FROM dependent)) AND b.state = 'queued'
            RETURNING b.id, b.depends_on, b.command, b.state, b.duration_ms{
        ", b.queue" if flow else ""
    }
        ), tallied AS ({_tally("cancelled")}
        ), summary AS (
            UPDATE job_summary AS s
            SET state = 'cancelled', completed_date = p_now, error_code = 'DependencyFailed',
                error_message = 'cancelled because job ' || c.depends_on
                    || ' it depends on did not complete'
            FROM cancelled AS c WHERE s.id = c.id
        )
        SELECT (SELECT coalesce(array_agg(id), '{{}}') FROM released),
            (SELECT coalesce(array_agg(id ORDER BY id), '{{}}') FROM cancelled){
        ", (SELECT coalesce(array_agg(queue), '{}') FROM cancelled)" if flow else ""
    }
        INTO released_ids, cancelled_ids{", v_cancelled_queues" if flow else ""};
    END IF;

    v_counts[1] := v_counts[1] + cardinality(cancelled_ids);
    WITH delta AS (
        SELECT d.state, d.n
        FROM unnest(ARRAY['cancelled', 'completed', 'failed'], v_counts) AS d(state, n)
        WHERE d.n > 0
    ), counted AS (
        -- Rows locked in state order, the same in every transaction: no deadlock.
        INSERT INTO job_count (state, n) SELECT state, n FROM delta ORDER BY state
        ON CONFLICT (state) DO UPDATE SET n = job_count.n + excluded.n
    )
    INSERT INTO job_minute (minute, state, n)
    SELECT p_now - p_now % 60000, state, n FROM delta ORDER BY state
    ON CONFLICT (minute, state) DO UPDATE SET n = job_minute.n + excluded.n;

{_FLOW_AFTER if flow else ""}
    PERFORM pg_notify(p_channel, 'finish');
END
$$;
"""


FINISH = (
    "SELECT applied_ids, released_ids, cancelled_ids FROM finish_jobs("
    + ", ".join(f"${i + 1}" for i in range(3 + len(TRANSITION_COLUMNS)))
    + ")"
)
