"""The schema's `finish_jobs` function: a batch of outcomes applied in one round trip.

Its statements each take a fresh snapshot (a VOLATILE function's do, under READ COMMITTED):
the first ones apply the transitions (one for those that end jobs, which also tallies them per
command, one for those that leave them live: each runs only when the call has transitions of
its kind, since a statement costs its start at every call, rows or none); the next ones keep
the history rows of retried attempts, release or cancel dependents, count (with flow
control's finishes per queue) and let parked jobs of a key back. Those must
see children enqueued by transactions that held their parent's row while the first waited
on it (`lookup.locked_states`), which one statement's single snapshot would not.
Called as one statement, it needs no BEGIN and COMMIT of its own: one round trip where a
transaction of two statements took four.

Batches are counted by the caller (`graph.settle_batches`: a batch that finishes enqueues
its callbacks, built by `batch_rules`), in the same transaction. So called alone
(`p_atomic` false), the function does nothing and answers `deferred` when a job of the
batch is in a batch, and raises DEFERRED (rolling back its statement) when a dependent it
cancelled is: the caller then runs it again inside a transaction of its own.

A job that ends (completed, failed, cancelled) leaves the live table in the first statement:
its row is deleted there and written, final, into its month's partition, where its summary
is read from (summaries.py). Dependents the function cancels stay in the live table
until the archive pass moves them (rare).
"""

from __future__ import annotations

from .arrays import broadcast
from .dependents_sql import RELEASE_SET, cancel_dependents_sql
from .logs import append_logs
from .search_sql import SEARCH_VECTOR
from .summaries import archive_refs
from .tally_sql import command_tally

TRANSITION_COLUMNS = (
    "id bigint", "state text", "guard text", "run_after bigint", "completed_date bigint",
    "duration_ms bigint", "response_type text", "response_body text", "error text", "logs text",
    "progress float8", "status text", "notified boolean", "refund integer", "outcome text",
    "notify_error text",
)  # fmt: skip
"""The transition arrays `finish_jobs` takes, after p_atomic, the log cap, now and the
channel. Every array but `p_id` may be `arrays.packed`: NULL leaves its column at its default
for every job (NULL, or '' for logs, false for notified, 0 for refund), one element gives
every job that value."""
_NAMES = [c.split()[0] for c in TRANSITION_COLUMNS]
_DEFAULTS = {"logs": "''", "notified": "false", "refund": "0"}


def _read(name: str) -> str:
    value = "u.id" if name == "id" else broadcast(f"p_{name}", f"u.{name}")
    return f"coalesce({value}, {_DEFAULTS[name]})" if name in _DEFAULTS else value


TRANSITIONS = f"""
SELECT {", ".join(f"{_read(n)} AS {n}" for n in _NAMES)}
FROM unnest({", ".join("p_" + n for n in _NAMES)}) AS u({", ".join(_NAMES)})"""
"""The transitions as rows, read from the function's arrays."""


def _one(name: str) -> str:
    value = f"p_{name}[1]"
    return f"coalesce({value}, {_DEFAULTS[name]})" if name in _DEFAULTS else value


ONE_TRANSITION = f"""
SELECT {", ".join(f"{_one(n)} AS {n}" for n in _NAMES)}"""
"""The same for a call of one transition (every array holds one element or is NULL): a row
of scalars, where the arrays' `unnest` cost ~20 µs a call to set up (perf)."""

DEFERRED = "JB001"
"""SQLSTATE `finish_jobs` raises, called alone, when it cancelled a dependent in a batch."""

_LOGS, _TRUNCATED = append_logs("b.", "t.logs", "p_max_log")
_STOPPED = "t.state IN ('failed', 'cancelled')"
CHANGED = {
    "state": "t.state", "owner": "CASE WHEN t.state = 'queued' THEN NULL ELSE b.owner END",
    "attempts": "b.attempts - t.refund",
    "run_after": "coalesce(t.run_after, b.run_after)", "completed_date": "t.completed_date",
    "duration_ms": "coalesce(t.duration_ms, b.duration_ms)",
    "response_type": "coalesce(t.response_type, b.response_type)",
    "response_body": "coalesce(t.response_body, b.response_body)", "error": "t.error::jsonb",
    "logs": _LOGS, "logs_truncated": _TRUNCATED, "progress": "coalesce(t.progress, b.progress)",
    "status": "coalesce(t.status, b.status)",
    "notified_date": "CASE WHEN t.notified THEN p_now ELSE b.notified_date END",
    "last_activity_date": "p_now",
    "last_outcome": f"CASE WHEN {_STOPPED} THEN coalesce(t.outcome, b.last_outcome) "
                    "ELSE b.last_outcome END",
    "notify_error": "coalesce(t.notify_error, b.notify_error)",
}  # fmt: skip
"""A job row's columns after its transition `t` (the rest stay as they are in `b`). The
attempt that ends a job stays in its row (`owner` is kept, `last_outcome` set when it
failed or was cancelled): `jobs_core.history` reads it from there."""

_ENDING = "state IN ('completed', 'failed', 'cancelled')"
_APPLIES = """b.id = t.id AND (t.guard IS NULL OR b.owner = t.guard)
          AND b.state NOT IN ('completed', 'failed', 'cancelled')"""

_RECORD_ATTEMPTS = f"""
    -- A retried attempt (the job queued again) keeps a history row, read from the job's row
    -- after its transition (this attempt's error, progress, status and appended logs).
    -- Logs the cap never cut end at their length: log_end's regular expressions cost ~5 µs
    -- a row (measured), so they run only on logs that start with its marker.
    IF p_outcome IS NOT NULL THEN
        INSERT INTO job_attempt (job_id, seq, number, outcome, engine, started_date,
            ended_date, duration_ms, error, progress, status, log_end)
        SELECT b.id,
            coalesce((SELECT max(a.seq) FROM job_attempt a WHERE a.job_id = b.id), 0) + 1,
            b.attempts + u.refund, u.outcome, u.guard, b.started_date, p_now,
            u.duration_ms, b.error, b.progress, b.status,
            CASE WHEN left(b.logs, 5) = '[... ' THEN log_end(b.logs) ELSE length(b.logs) END
        FROM ({TRANSITIONS}) AS u
        JOIN background_job b ON b.id = u.id
        WHERE u.outcome IS NOT NULL AND u.state = 'queued' AND u.id = ANY(applied_ids);
    END IF;
"""

_DEPENDENTS = f"""
    -- Most stores have no job waiting on another: one probe of the partial index of waiting
    -- jobs (ORDER BY makes it the plan even before the table has statistics) then spares
    -- the release and the cancellation.
    released_ids := '{{}}';
    cancelled_ids := '{{}}';
    PERFORM waiting_on FROM background_job WHERE waiting_on IS NOT NULL
    ORDER BY waiting_on LIMIT 1;
    IF FOUND THEN
        {cancel_dependents_sql("v_stopped", "p_now")}, tallied AS (
            {command_tally("cancelled", "p_now")}
        )
        SELECT coalesce(array_agg(id ORDER BY id), '{{}}'),
            coalesce(array_agg(batch_id) FILTER (WHERE batch_id IS NOT NULL), '{{}}'),
            coalesce(array_agg(queue), '{{}}')
        INTO cancelled_ids, v_cancelled_batches, v_cancelled_queues
        FROM cancelled;
        IF NOT p_atomic AND cardinality(v_cancelled_batches) > 0 THEN
            RAISE EXCEPTION 'a cancelled dependent is in a batch' USING ERRCODE = '{DEFERRED}';
        END IF;
        batch_ids := batch_ids || v_cancelled_batches;
        batch_states := batch_states
            || array_fill('cancelled'::text, ARRAY[cardinality(v_cancelled_batches)]);

        -- Dependents of every job that ended move on to their next pending parent, or are
        -- released (a `finished` policy waits on failed and cancelled parents too).
        WITH released AS (
            UPDATE background_job AS b SET {RELEASE_SET}
            WHERE b.waiting_on IS NOT NULL
              AND b.waiting_on = ANY(v_completed || v_stopped || cancelled_ids)
              AND b.state = 'queued'
            RETURNING b.id, b.waiting_on
        )
        SELECT coalesce(array_agg(id) FILTER (WHERE waiting_on IS NULL), '{{}}')
        INTO released_ids FROM released;
    END IF;
"""

_COUNT = """
    -- The counters, flow control's finishes per queue and minute, and the wake-up, in one
    -- statement (a statement of a function costs its start and end at every call, rows or
    -- none). Rows locked in key order, the same in every transaction: no deadlock.
    v_counts[1] := v_counts[1] + cardinality(cancelled_ids);
    WITH delta AS (
        SELECT d.state, d.n
        FROM unnest(ARRAY['cancelled', 'completed', 'failed'], v_counts) AS d(state, n)
        WHERE d.n > 0
    ), counted AS (
        INSERT INTO job_count (state, n) SELECT state, n FROM delta ORDER BY state
        ON CONFLICT (state) DO UPDATE SET n = job_count.n + excluded.n
    ), minutes AS (
        INSERT INTO job_minute (minute, state, n)
        SELECT p_now - p_now % 60000, state, n FROM delta ORDER BY state
        ON CONFLICT (minute, state) DO UPDATE SET n = job_minute.n + excluded.n
    ), per_queue AS (
        INSERT INTO queue_minute (queue, minute, state, n)
        SELECT d.queue, p_now - p_now % 60000, d.state, count(*) FROM (
            SELECT * FROM unnest(v_queues, v_states) AS f(queue, state)
            UNION ALL
            SELECT c.queue, 'cancelled' FROM unnest(v_cancelled_queues) AS c(queue)) AS d
        GROUP BY d.queue, d.state ORDER BY d.queue, d.state
        ON CONFLICT (queue, minute, state) DO UPDATE SET n = queue_minute.n + excluded.n
    )
    SELECT true INTO v_notified FROM pg_notify(p_channel, 'finish');
"""

_FLOW = """
    -- Flow control: the first parked jobs of each key whose job left the started state let
    -- back (a claim parks them again if the key is still at its limit).
    -- Mostly nothing is parked: one probe of ix_job_key_parked instead of one per key.
    IF cardinality(v_keys) > 0
       AND EXISTS (SELECT 1 FROM background_job WHERE key_parked AND state = 'queued') THEN
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


def _ending(job_fields: list[str], failed: bool, transitions: str) -> str:
    """The transitions that end jobs: their rows moved to the archive, tallied; what the
    next statements need into variables. `failed`: some transition fails or cancels its job
    (else the insert into `failed_job`, which would get no row, is left out: each part of a
    statement costs its start at every call, rows or none)."""
    columns = ", ".join(job_fields)
    final_row = ", ".join(f"{CHANGED.get(f, 'b.' + f)} AS {f}" for f in job_fields)
    into_failed = f"""
        ), failed AS (
            INSERT INTO failed_job ({columns}, search)
            SELECT {columns}, {SEARCH_VECTOR} FROM ended WHERE state <> 'completed'"""
    if not failed:
        into_failed = ""
    # Rows are found by primary key (`= ANY(ARRAY(...))`): joined to the transitions, which
    # the planner cannot size, an empty part would scan the whole live table.
    return f"""
        WITH t AS ({transitions}
        ), ended AS (
            DELETE FROM background_job AS b USING t
            WHERE b.id = ANY(ARRAY(SELECT id FROM t WHERE {_ENDING}))
              AND {_APPLIES}
            RETURNING {final_row}
        ), completed AS (
            INSERT INTO completed_job ({columns}, search)
            SELECT {columns}, {SEARCH_VECTOR} FROM ended WHERE state = 'completed'{into_failed}
        ), tallied AS ({command_tally("ended", "p_now")}
        ), refs AS ({archive_refs("ended")}
        )
        SELECT coalesce(array_agg(id), '{{}}'),
            coalesce(array_agg(id) FILTER (WHERE state = 'completed'), '{{}}'),
            coalesce(array_agg(id) FILTER (WHERE state IN ('failed', 'cancelled')), '{{}}'),
            ARRAY[count(*) FILTER (WHERE state = 'cancelled'),
                  count(*) FILTER (WHERE state = 'completed'),
                  count(*) FILTER (WHERE state = 'failed')],
            coalesce(array_agg(batch_id) FILTER (WHERE batch_id IS NOT NULL), '{{}}'),
            coalesce(array_agg(state) FILTER (WHERE batch_id IS NOT NULL), '{{}}'),
            coalesce(array_agg(queue), '{{}}'), coalesce(array_agg(state), '{{}}'),
            coalesce(array_agg(concurrency_key) FILTER (WHERE concurrency_key IS NOT NULL),
                     '{{}}')
        INTO applied_ids, v_completed, v_stopped, v_counts, batch_ids, batch_states, v_queues,
            v_states, v_keys
        FROM ended;"""


def _changed(transitions: str) -> str:
    """The transitions that leave their job live (retried, or a progress write): the rows
    updated in place."""
    return f"""
        WITH t AS ({transitions}
        ), changed AS (
            UPDATE background_job AS b
            SET {", ".join(f"{f} = {e}" for f, e in CHANGED.items())}, cancel_requested = false
            FROM t
            WHERE b.id = ANY(ARRAY(SELECT id FROM t WHERE NOT {_ENDING}))
              AND {_APPLIES}
            RETURNING b.id, b.concurrency_key
        )
        SELECT applied_ids || coalesce(array_agg(id), '{{}}'),
            v_keys || coalesce(array_agg(concurrency_key)
                               FILTER (WHERE concurrency_key IS NOT NULL), '{{}}')
        INTO applied_ids, v_keys
        FROM changed;"""


_ENDS = "ARRAY['completed', 'failed', 'cancelled']"


def _apply(job_fields: list[str], transitions: str) -> str:
    """The transitions, their rows moved or updated; what the next
    statements need into variables. Mostly every transition of a call completes its job
    (`p_state` then holds one element, `arrays.packed`): the statements for the other kinds
    run only when some transition is of their kind."""
    return f"""
    IF p_state && {_ENDS} THEN
        IF p_state && ARRAY['failed', 'cancelled'] THEN{_ending(job_fields, True, transitions)}
        ELSE{_ending(job_fields, False, transitions)}
        END IF;
    END IF;
    IF NOT p_state <@ {_ENDS} THEN{_changed(transitions)}
    END IF;"""


def _apply_any(job_fields: list[str]) -> str:
    """`_apply` with a statement of scalars for a call of one transition (an engine fed one
    job at a time writes one outcome a call)."""
    return f"""
    IF cardinality(p_id) = 1 THEN{_apply(job_fields, ONE_TRANSITION)}
    ELSE{_apply(job_fields, TRANSITIONS)}
    END IF;
"""


def finish_function(job_fields: list[str]) -> str:
    """DDL of `finish_jobs` for job tables with columns `job_fields`."""
    params = ", ".join(f"p_{c.split()[0]} {c.split()[1]}[]" for c in TRANSITION_COLUMNS)
    return f"""
CREATE FUNCTION finish_jobs(p_atomic boolean, p_max_log integer, p_now bigint,
    p_channel text, {params},
    OUT applied_ids bigint[], OUT released_ids bigint[], OUT cancelled_ids bigint[],
    OUT batch_ids text[], OUT batch_states text[], OUT deferred boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_completed bigint[] := '{{}}';
    v_stopped bigint[] := '{{}}';
    v_counts bigint[] := ARRAY[0, 0, 0];
    v_cancelled_batches text[];
    v_queues text[] := '{{}}';
    v_states text[] := '{{}}';
    v_keys text[] := '{{}}';
    v_cancelled_queues text[] := '{{}}';
    v_notified boolean;
BEGIN
    -- Batch counters need the caller's transaction; a job's batch never changes. Probed in
    -- ix_job_batch, the live jobs that are in a batch: no heap read, and most stores have
    -- none (an index of the whole table read the row of every job, ~1.5 µs a job).
    deferred := NOT p_atomic AND EXISTS (
        SELECT 1 FROM background_job WHERE batch_id IS NOT NULL AND id = ANY(p_id));
    IF deferred THEN
        RETURN;
    END IF;
    applied_ids := '{{}}';
    batch_ids := '{{}}';
    batch_states := '{{}}';{_apply_any(job_fields)}{_RECORD_ATTEMPTS}{_DEPENDENTS}{_COUNT}{_FLOW}
END
$$;
"""


FINISH = (
    "SELECT applied_ids, released_ids, cancelled_ids, batch_ids, batch_states, deferred "
    "FROM finish_jobs(" + ", ".join(f"${i + 1}" for i in range(4 + len(TRANSITION_COLUMNS))) + ")"
)
