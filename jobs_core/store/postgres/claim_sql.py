"""The SQL of PostgreSQL claims with flow control (`flow_claims.py` runs them), apart so that
the schema can create `claim_locked` (the default claim under the store's claim lock, in one
round trip) from the same text.

A statement's snapshot is taken before it could take a lock, so a claim that must see every
earlier claim (flow control in use: limits and keys need exact counts) cannot lock and claim
in one statement. A VOLATILE PL/pgSQL function can: each statement in it takes a fresh
snapshot, so its claim, run after `pg_advisory_xact_lock`, sees every claim committed
before the lock was granted. One `SELECT * FROM claim_locked(...)` (its own transaction,
the lock released at its commit) replaces BEGIN, the lock, the claim and COMMIT.
"""

from __future__ import annotations

from collections.abc import Sequence

from jobs_core.flow import MIN_PER_QUEUE

CLAIM_LOCK_KEY = 0
"""Second key of the store's advisory lock class that serialises claims in flow mode."""

READY = "state = 'queued' AND waiting_on IS NULL AND NOT key_parked"
"""The predicate of `ix_job_ready`."""

FLOW_NEEDED = """
flow AS MATERIALIZED (
    SELECT EXISTS (SELECT 1 FROM job_queue
                   WHERE paused OR concurrency IS NOT NULL OR rate_limit IS NOT NULL)
        OR EXISTS (SELECT 1 FROM background_job
                   WHERE state = 'queued' AND concurrency_key IS NOT NULL
                     AND waiting_on IS NULL AND NOT key_parked) AS needed
)"""
"""Whether flow control is in use: a queue with a rule, or a ready job with a key."""

FLOW = f"""{FLOW_NEEDED}, go AS MATERIALIZED (
    SELECT $5::boolean OR NOT needed AS ok FROM flow
)"""
"""Whether flow control is in use; a claim without the lock (`$5` false) then claims nothing."""

NOT_MINE = "(r.owner = $1 AND r.id IN (SELECT unnest($7::bigint[]))) IS NOT TRUE"
"""A started row `r` that still runs: not one of the claiming engine's jobs whose handlers have
ended, their outcomes not yet committed (`$7`, given by the engine), so a queue's or a key's
running count leaves those out. Only this engine's (`owner`), and only rows the count reads as
`started`: an outcome committed meanwhile, or a job another engine has claimed again since, is
counted as the table says. Tested on the started rows a limited queue's or a key's count
reads anyway, against a hash of `$7` built once per statement (a hashed SubPlan), and only when
a limit needs a count. It was a CTE of the ended jobs looked up by primary key and counted per
queue and key: one index descent and heap visit per id, ~2.3 µs of the server per ended job
named (a claim of 100 naming 200: +460 µs, against +30-90 now; bench/README.md, issue 10's
tenth pass)."""

WINDOW_STARTS = """(SELECT coalesce(sum(s.n), 0) FROM queue_start s
                    WHERE s.queue = {queue} AND s.started_at > $2 - c.rate_per_ms)"""


ROUND_SETTING = "jobs.claim_round"
"""The transaction-local setting where a round of `claim_locked` leaves what it did."""

ROUND_STATS = f"""
, round AS (
    SELECT set_config('{ROUND_SETTING}', concat_ws(' ', coalesce(sum(n), 0), coalesce(max(n), 0),
                      (SELECT count(*) FROM parked),
                      (SELECT coalesce(max(base), 0) FROM share)), true)
    FROM (SELECT count(*) AS n FROM claimed GROUP BY queue) AS per_queue
)"""
"""One row, made once: the jobs a round claimed, the most one queue gave, the jobs it parked,
the share each queue had (`SHARE`'s base; read by `claim_locked` after the round's RETURN
QUERY)."""


# A claim writes only the live row: the summary of a running job takes its state, start and
# attempts from there (summaries.LIVE_SUMMARY_SELECT) until the job's next change writes both.
# `= ANY(ARRAY(...))`: an index probe per claimed id; a join lets the planner, which cannot
# know the batch is small, hash the whole table (measured: 7 ms instead of 1 for 100 jobs).
def claimed(job_fields: list[str], queues: str, stats: bool = False) -> str:
    """Start the chosen jobs, count rate-limited starts; one row at least (the flags: flow
    mode needed, jobs parked, and `queues`, the queues with ready jobs). `stats`: also
    leave `ROUND_STATS` (the claimed jobs join its row, so that it runs once)."""
    b_fields = ", ".join("b." + f for f in job_fields)
    c_fields = ", ".join("c." + f for f in job_fields)
    one = "round" if stats else "(SELECT 1)"
    return f"""
claimed AS (
    UPDATE background_job AS b
    SET state = 'started', owner = $1, attempts = b.attempts + 1, started_date = $2,
        last_activity_date = $2, cancel_requested = false
    WHERE b.id = ANY(ARRAY(SELECT id FROM chosen))
    RETURNING {b_fields}
), starts AS (
    INSERT INTO queue_start (queue, started_at, n)
    SELECT c.queue, $2, count(*) FROM claimed c JOIN job_queue q ON q.name = c.queue
    WHERE q.rate_limit IS NOT NULL GROUP BY c.queue
){ROUND_STATS if stats else ""}
SELECT {c_fields},
    (SELECT needed FROM flow), (SELECT count(*) FROM parked), {queues}
FROM {one} AS one LEFT JOIN claimed c ON true
ORDER BY c.priority DESC, c.run_after, c.id
"""


QUEUES = f"""queues(name) AS (
    (SELECT queue FROM background_job WHERE worker = '' AND {READY} ORDER BY queue LIMIT 1)
    UNION ALL
    SELECT (SELECT b.queue FROM background_job b
            WHERE b.worker = '' AND b.state = 'queued' AND b.waiting_on IS NULL
              AND NOT b.key_parked AND b.queue > queues.name ORDER BY b.queue LIMIT 1)
    FROM queues WHERE queues.name IS NOT NULL
)"""
"""The default worker's queues that have a ready job, one index probe each (a recursive
skip scan of the ready index): the default claims' turns between queues."""


def next_due_sql(now: str) -> str:
    """Earliest `run_after` after `now` (a parameter) of a ready job: one index probe per
    worker, queue, command and priority level (the ready index orders by priority before
    due time). A statement of its own (`flow_claims.next_due`), and the plain claim's."""
    return f"""
WITH RECURSIVE groups AS (
    (SELECT worker, queue, command FROM background_job WHERE {READY}
     ORDER BY worker, queue, command LIMIT 1)
    UNION ALL
    SELECT n.worker, n.queue, n.command FROM groups g CROSS JOIN LATERAL (
        SELECT worker, queue, command FROM background_job
        WHERE {READY} AND (worker, queue, command) > (g.worker, g.queue, g.command)
        ORDER BY worker, queue, command LIMIT 1) AS n
), levels AS (
    SELECT g.worker, g.queue, g.command, m.priority FROM groups g CROSS JOIN LATERAL (
        SELECT max(priority) AS priority FROM background_job
        WHERE {READY} AND worker = g.worker AND queue = g.queue AND command = g.command) AS m
    UNION ALL
    SELECT l.worker, l.queue, l.command, m.priority FROM levels l CROSS JOIN LATERAL (
        SELECT max(priority) AS priority FROM background_job
        WHERE {READY} AND worker = l.worker AND queue = l.queue AND command = l.command
          AND priority < l.priority) AS m
    WHERE l.priority IS NOT NULL
)
SELECT min((SELECT min(run_after) FROM background_job
            WHERE {READY} AND worker = l.worker AND queue = l.queue AND command = l.command
              AND priority = l.priority AND run_after > {now}))
FROM levels l WHERE l.priority IS NOT NULL
"""


NEVER_DUE = 2**63 - 1
"""The plain claim's `due` when no ready job has a future `run_after`."""


SHARE = f"""share AS (
    SELECT name, base, LEAST(n, base + CASE WHEN n > base THEN (spare + open - 1) / open
                                            ELSE 0 END) AS cap
    FROM (SELECT name, n, base, sum(GREATEST(base - n, 0)) OVER ()::bigint AS spare,
                 count(*) FILTER (WHERE n > base) OVER () AS open
          FROM (SELECT name, n, CASE WHEN $6 > 0 THEN $6 ELSE GREATEST({MIN_PER_QUEUE},
                           ($4 + count(*) OVER () - 1) / count(*) OVER ()) END AS base
                FROM allowance) AS fair) AS spared
)"""
"""How many jobs each queue may give a round: its share of the batch among the queues with
ready jobs now (`base`, as `flow.per_queue_cap`; `$6` instead when above 0), and the share a
queue's allowance leaves unused (at or near its concurrency limit, paused, out of rate) split among
the queues with room for more. With a share from the last claim's count of queues, a claim
after the producer filled four more queues read and locked 100 jobs of each; with shares
alone, a limited queue at its limit left the first round short and the claim ran a second
round (a whole statement again: ~1 ms of the server's CPU for a claim of 100; bench/README.md,
issue 10's ninth pass)."""


def claim_default(job_fields: list[str], stats: bool = False) -> str:
    """The default-worker claim, returning `job_fields` and the flags; `$1` owner, `$2` now,
    `$3` commands, `$4` batch, `$5` locked, `$6` how many jobs one queue may give (0: its
    share of the batch among the queues found, see `SHARE`). Queues take turns in a batch
    (the first job of each, oldest first, then the second, ...): priorities order the jobs of
    one queue, and no queue starves another."""
    return f"""
WITH RECURSIVE {FLOW}, {QUEUES}, allowance AS (
    SELECT q.name, CASE WHEN c.name IS NULL THEN $4 WHEN c.paused THEN 0 ELSE LEAST($4,
        CASE WHEN c.concurrency IS NULL THEN $4 ELSE c.concurrency
            - (SELECT count(*) FROM background_job r
               WHERE r.queue = q.name AND r.state = 'started' AND {NOT_MINE}) END,
        CASE WHEN c.rate_limit IS NULL THEN $4
             ELSE c.rate_limit - {WINDOW_STARTS.format(queue="q.name")} END) END AS n
    FROM queues q LEFT JOIN job_queue c ON c.name = q.name
    WHERE q.name IS NOT NULL AND (SELECT ok FROM go)
), {SHARE}, candidate AS MATERIALIZED (
    SELECT p.*, row_number() OVER (
        PARTITION BY a.name ORDER BY p.priority DESC, p.run_after, p.id) AS nth
    FROM share a CROSS JOIN LATERAL (
        SELECT x.* FROM unnest($3::text[]) AS cmd(name) CROSS JOIN LATERAL (
            SELECT id, priority, run_after, concurrency_key, concurrency_limit
            FROM background_job
            WHERE worker = '' AND queue = a.name AND command = cmd.name AND {READY}
              AND run_after <= $2 AND (expires_at IS NULL OR expires_at > $2)
            ORDER BY priority DESC, run_after, id LIMIT a.cap
            FOR UPDATE SKIP LOCKED) AS x
        ORDER BY x.priority DESC, x.run_after, x.id LIMIT a.cap) AS p
    WHERE a.cap > 0
), held AS MATERIALIZED (
    SELECT k.id FROM (
        SELECT id, concurrency_key, concurrency_limit, row_number() OVER (
            PARTITION BY concurrency_key ORDER BY priority DESC, run_after, id) AS nth
        FROM candidate WHERE concurrency_key IS NOT NULL) AS k
    WHERE k.nth + (SELECT count(*) FROM background_job r
                   WHERE r.concurrency_key = k.concurrency_key AND r.state = 'started'
                     AND {NOT_MINE})
          > k.concurrency_limit
), chosen AS (
    SELECT id FROM candidate WHERE id <> ALL(ARRAY(SELECT id FROM held))
    ORDER BY nth, run_after, id LIMIT $4
), parked AS (
    UPDATE background_job SET key_parked = true
    WHERE id = ANY(ARRAY(SELECT id FROM held)) RETURNING id
), {claimed(job_fields, "(SELECT count(*) FROM allowance)", stats)}"""


def claim_plain(fields: Sequence[str], rare: Sequence[str], due: bool = True) -> str:
    """`claim_default` without the lock while no flow rule is in use: the same order and
    turns, the same flags (parked always 0), but none of what only a rule needs (the
    allowances, the running counts, the keys' holds and parking, the rate's starts), whose
    plan nodes the server set up at every call (~40% of a claim of one's server CPU). The
    flow probe stays in the statement: when it finds a rule or a keyed ready job, the
    statement claims nothing and says so, and the store claims again under the lock, as
    with `claim_default` unlocked. `$1` owner, `$2` now, `$3` commands, `$4` batch, `$5`
    how many jobs one queue may give. Two flags more than `claim_default`'s: whether a
    named worker has a ready job (a named claim could claim one; see `named_idle.py`), and
    `due`, set only when the claim came back short (fewer jobs than one queue's share, no
    rule in use: it claimed every due job of its commands): the earliest `run_after` after
    `$2` of any ready job, `NEVER_DUE` if none (see `default_idle.py`). `due` False: that
    column always NULL (a claim expected full sets up none of its plan nodes).

    Each job comes back as `fields`, then the columns `rare` as one anonymous record, NULL
    when every one of them is NULL (or false: `logs_truncated`), as for most jobs: what
    the claimer knows (owner, time, worker, state) and what a job mostly leaves unset are
    not sent (`rows.plain_claimed_job`). The whole row (47 columns) cost the server its send
    functions and the wider rows in the CTE's store and the sort, and the client decoding
    them (bench/README.md, issue 9's tenth pass).
    """
    due_sql = "NULL::bigint"
    if due:
        due_sql = f"""CASE WHEN (SELECT count(*) FROM claimed) < $5
        AND NOT (SELECT needed FROM flow) THEN coalesce(({next_due_sql("$2")}), {NEVER_DUE}) END"""
    b_fields = ", ".join("b." + f for f in fields)
    c_fields = ", ".join("c." + f for f in fields)
    set_any = ", ".join(
        "nullif(b.logs_truncated, false)" if f == "logs_truncated" else "b." + f for f in rare
    )
    as_record = ", ".join("b." + f for f in rare)
    b_rare = f"CASE WHEN num_nonnulls({set_any}) > 0 THEN ROW({as_record}) END"
    return f"""
WITH RECURSIVE {FLOW_NEEDED}, {QUEUES}, open AS (
    SELECT name FROM queues WHERE name IS NOT NULL AND NOT (SELECT needed FROM flow)
), candidate AS MATERIALIZED (
    SELECT p.id, p.run_after, row_number() OVER (
        PARTITION BY o.name ORDER BY p.priority DESC, p.run_after, p.id) AS nth
    FROM open o CROSS JOIN LATERAL (
        SELECT x.* FROM unnest($3::text[]) AS cmd(name) CROSS JOIN LATERAL (
            SELECT id, priority, run_after FROM background_job
            WHERE worker = '' AND queue = o.name AND command = cmd.name AND {READY}
              AND run_after <= $2 AND (expires_at IS NULL OR expires_at > $2)
            ORDER BY priority DESC, run_after, id LIMIT $5
            FOR UPDATE SKIP LOCKED) AS x
        ORDER BY x.priority DESC, x.run_after, x.id LIMIT $5) AS p
), claimed AS (
    UPDATE background_job AS b
    SET state = 'started', owner = $1, attempts = b.attempts + 1, started_date = $2,
        last_activity_date = $2, cancel_requested = false
    WHERE b.id = ANY(ARRAY(SELECT id FROM candidate ORDER BY nth, run_after, id LIMIT $4))
    RETURNING {b_fields}, {b_rare} AS rare
)
SELECT {c_fields}, c.rare, (SELECT needed FROM flow), 0::bigint, (SELECT count(*) FROM open),
    (SELECT worker FROM background_job WHERE worker > '' AND {READY}
     ORDER BY worker LIMIT 1) IS NOT NULL AS named_ready,
    {due_sql} AS due
FROM (SELECT 1) AS one LEFT JOIN claimed c ON true
ORDER BY c.priority DESC, c.run_after, c.id
"""


def locked_round(job_fields: list[str]) -> str:
    """One round of `claim_locked`: `claim_default` leaving `ROUND_STATS`; the batch and
    the per-queue share change between rounds (variables, not parameters)."""
    statement = claim_default(job_fields, True).replace("$7", "$8")
    return statement.replace("$4", "v_batch").replace("$6", "v_cap")


def claim_locked_function(
    column_types: dict[str, str], job_fields: list[str], max_rounds: int
) -> str:
    """DDL of `claim_locked(owner, now, commands, batch, locked, per_queue, lock_class,
    finished)`:
    the store's claim lock, then `claim_default` in rounds while the batch has room (the
    rule of `flow.next_cap`, at most `max_rounds`), all in the caller's one statement. A
    migration that changes `claim_default` creates this function again.

    Each round is a RETURN QUERY. A FOR loop over the round's rows (each assigned to the
    function's variables, then RETURN NEXT) cost 2-3 µs a job, as much as the rest of flow
    control's claim (bench/README.md); what it read from the rows (jobs claimed, the most
    from one queue, jobs parked) the round leaves in a transaction-local setting instead
    (`ROUND_STATS`)."""
    out = ", ".join(f"{f} {column_types[f]}" for f in job_fields)
    statement = locked_round(job_fields)
    return f"""
CREATE FUNCTION claim_locked(
    text, bigint, text[], integer, boolean, integer, integer, bigint[])
RETURNS TABLE ({out}, flag_needed boolean, flag_parked bigint, flag_queues bigint)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    v_batch integer := $4;
    v_cap integer := $6;
    v_claimed integer := 0;
    v_round bigint[];
BEGIN
    PERFORM pg_advisory_xact_lock($7, {CLAIM_LOCK_KEY});
    FOR v_n IN 1..{max_rounds} LOOP
        RETURN QUERY {statement};
        -- claimed, most from one queue, parked, each queue's share (0: no queue had a job)
        v_round := string_to_array(current_setting('{ROUND_SETTING}'), ' ')::bigint[];
        v_claimed := v_claimed + v_round[1];
        v_cap := v_round[4];
        v_batch := $4 - v_claimed;
        EXIT WHEN v_batch <= 0 OR v_cap = 0;
        IF v_round[2] >= v_cap AND v_cap < $4 THEN
            v_cap := v_batch;
        ELSIF v_round[3] > 0 THEN
            v_cap := LEAST(v_cap, v_batch);
        ELSE
            EXIT;
        END IF;
    END LOOP;
END
$fn$;
"""
