"""The flow-controlled claim on SQLite: which ready jobs a batch starts, by one UPDATE per
round, directly or decided in Python from facts read in the claim's transaction.

`BEGIN IMMEDIATE` serialises claims across every process, so what a claim reads (jobs
running per queue and per key, starts within a rate window) stays exact until it commits,
and limits hold store-wide. A queue's room (paused: 0; else its free concurrency and rate)
is read once per claim with the pairs (`claims.PRECHECK`) and lowered by the jobs each
round starts: the claim's own tally, in its own transaction. Each round reads each served
(queue, command) pair's first jobs with their key's running count (`CANDIDATES`), keeps a
queue's first by priority then due time within its room, sets aside keyed jobs beyond their
key's free slots (`key_parked`: they leave the ready index until a job with their key
finishes, so no claim steps over them again), and starts the rest, queues taking turns.

Deciding in Python instead of in the claim statement (windows over queues and keys,
materialised steps, an UPDATE … FROM with a CASE per column) cost 12.9 µs a job against
8.7 + 1.5 read + ~0.5 decided (`bench/ab_store_cpu.py --mixed`).

Most rounds need no decision: where no key holds a job back, a round starts each pair's
first jobs within its queue's offer, which one statement does without reading them first
(`direct_round`: a range of the ready index per pair, the key checked against its running
jobs in the statement). A round that came short of an offer (a key held a job back, or the
pair ran out) hands over to decided rounds, which park what a key holds back; two jobs of
one key started together roll the round back to a savepoint (SQLite checks the WHERE of
every row before it changes any). Claims of the mixed workload: 20.9 → 17.2 µs a job.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from jobs_core.flow import MAX_ROUNDS, next_cap, per_queue_cap
from jobs_core.records import Job

from .rows import FLOW_FIELDS, FLOW_KEY, FLOW_SELECT, flow_claimed_jobs

READY = "state = 'queued' AND waiting_on IS NULL AND key_parked = 0"
"""The predicate of `ix_job_ready`: queued, not waiting on a parent, not parked."""

PAIRS = f"""
pairs(q, c) AS (
    SELECT queue, command FROM background_job
    WHERE id = (SELECT id FROM background_job INDEXED BY ix_job_ready
                WHERE worker = '' AND {READY} ORDER BY queue, command LIMIT 1)
    UNION ALL
    SELECT b.queue, b.command FROM pairs p JOIN background_job b ON b.id = coalesce(
        (SELECT id FROM background_job INDEXED BY ix_job_ready
         WHERE worker = '' AND {READY} AND queue = p.q AND command > p.c
         ORDER BY queue, command LIMIT 1),
        (SELECT id FROM background_job INDEXED BY ix_job_ready
         WHERE worker = '' AND {READY} AND queue > p.q ORDER BY queue, command LIMIT 1))
)"""
"""The (queue, command) pairs with ready default-worker jobs: a loose scan of the ready
index, one probe per pair (seeks on equal prefixes: a row-value `>` would seek on the first
column only)."""

READY_LEVELS = f"""
groups(w, q, c) AS (
    SELECT worker, queue, command FROM background_job
    WHERE id = (SELECT id FROM background_job INDEXED BY ix_job_ready WHERE {READY}
                ORDER BY worker, queue, command LIMIT 1)
    UNION ALL
    SELECT b.worker, b.queue, b.command FROM groups g JOIN background_job b ON b.id = coalesce(
        (SELECT id FROM background_job INDEXED BY ix_job_ready
         WHERE {READY} AND worker = g.w AND queue = g.q AND command > g.c
         ORDER BY worker, queue, command LIMIT 1),
        (SELECT id FROM background_job INDEXED BY ix_job_ready
         WHERE {READY} AND worker = g.w AND queue > g.q ORDER BY worker, queue, command LIMIT 1),
        (SELECT id FROM background_job INDEXED BY ix_job_ready
         WHERE {READY} AND worker > g.w ORDER BY worker, queue, command LIMIT 1))
), levels(w, q, c, p) AS (
    SELECT w, q, c, (SELECT max(priority) FROM background_job INDEXED BY ix_job_ready
                     WHERE {READY} AND worker = groups.w AND queue = groups.q
                       AND command = groups.c)
    FROM groups
    UNION ALL
    SELECT w, q, c, (SELECT max(priority) FROM background_job INDEXED BY ix_job_ready
                     WHERE {READY} AND worker = levels.w AND queue = levels.q
                       AND command = levels.c AND priority < levels.p)
    FROM levels WHERE p IS NOT NULL
)"""
"""The worker, queue, command and priority levels of the ready index (`levels(w, q, c, p)`,
rows with `p` NULL ending each group): one probe per level, the groups found by seeks on
equal prefixes (a row-value `>` seeks on the first column only and would walk every entry
of the same worker). For `WITH RECURSIVE`."""

ROOM = """
(SELECT CASE WHEN c.paused THEN 0 ELSE min(
    CASE WHEN c.concurrency IS NULL THEN :limit ELSE c.concurrency
        - (SELECT count(*) FROM background_job r INDEXED BY ix_job_running
           WHERE r.queue = c.name AND r.state = 'started') END,
    CASE WHEN c.rate_limit IS NULL THEN :limit ELSE c.rate_limit
        - (SELECT coalesce(sum(s.n), 0) FROM queue_start s
           WHERE s.queue = c.name AND s.started_at > :now - c.rate_per_ms) END) END
 FROM job_queue c WHERE c.name = q)"""
"""A pair's queue's room: how many more of its jobs may start now (NULL: no settings)."""

CANDIDATES = f"""
SELECT b.id, b.queue, b.priority, b.run_after, b.concurrency_key, b.concurrency_limit,
    CASE WHEN b.concurrency_key IS NULL THEN 0
         ELSE (SELECT count(*) FROM background_job r INDEXED BY ix_job_key_running
               WHERE r.concurrency_key = b.concurrency_key AND r.state = 'started') END
FROM json_each(:pairs) AS p JOIN background_job b ON b.id IN (
    SELECT id FROM background_job INDEXED BY ix_job_ready
    WHERE worker = '' AND queue = p.value ->> 0 AND command = p.value ->> 1 AND {READY}
      AND run_after <= :now AND (expires_at IS NULL OR expires_at > :now)
    ORDER BY priority DESC, run_after, id LIMIT :per_queue)
ORDER BY b.queue, b.priority DESC, b.run_after, b.id
"""
"""The first due jobs of each pair (one range of the ready index each: jobs of commands
this engine does not run are never read), with their key's running jobs, store-wide."""

START = f"""
UPDATE background_job
SET state = 'started', owner = :owner, attempts = attempts + 1, started_date = :now,
    last_activity_date = :now, cancel_requested = 0
WHERE id IN (SELECT value FROM json_each(:ids))
RETURNING {FLOW_SELECT}
"""
"""Start the jobs a round chose: the batch's one claim statement."""

_QUEUE_OF = itemgetter(FLOW_FIELDS.index("queue"))
"""A `FLOW_SELECT` row's queue: a round counts its jobs per queue from its rows, in C
(`Counter` of a `map`), not from the jobs' attributes in a generator."""

PARK = """
UPDATE background_job SET key_parked = 1 WHERE id IN (SELECT value FROM json_each(:ids))
"""


Candidate = tuple[int, str, int, int, str | None, int, int]
"""A ready job a round may start, as `CANDIDATES` reads it: id, queue, priority, run_after,
concurrency key, the key's limit, and its jobs running now, store-wide (before the round).
Plain tuples: a record per candidate cost more than the SQL the decision replaced."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    """What a round does: the jobs it starts (in turn order) and those it parks."""

    start: list[int]
    park: list[int]


def choose(candidates: list[Candidate], room: dict[str, int | None], cap: int, left: int) -> Choice:
    """Each queue's first `min(cap, left, its room)` candidates (`candidates` come by queue,
    then priority, due time and id; `room` None: no limit); keyed ones beyond their key's
    free slots parked (a key's free slots count the chosen jobs of every queue); the rest
    started, queues taking turns (the first of each queue, oldest first, then the second of
    each, ...), at most `left`."""
    allowed: list[tuple[int, int, int]] = []
    keyed: list[Candidate] = []
    queue, nth, n = None, 0, 0
    for c in candidates:
        if c[1] != queue:
            queue, nth, free = c[1], 0, room.get(c[1])
            n = min(cap, left) if free is None else min(cap, left, free)
        nth += 1
        if nth <= n:
            allowed.append((nth, c[3], c[0]))
            if c[4] is not None:
                keyed.append(c)
    held = _held(keyed) if keyed else set()
    allowed.sort()
    start = [job_id for _, _, job_id in allowed if job_id not in held][:left]
    return Choice(start=start, park=sorted(held))


def _held(keyed: list[Candidate]) -> set[int]:
    """The keyed jobs beyond their key's free slots, a key's jobs taken by priority."""
    if len({c[4] for c in keyed}) == len(keyed):  # one job a key: its running ones decide
        return {c[0] for c in keyed if c[6] >= c[5]}
    seen: Counter[str | None] = Counter()
    held: set[int] = set()
    for c in sorted(keyed, key=lambda c: (-c[2], c[3], c[0])):
        seen[c[4]] += 1
        if seen[c[4]] + c[6] > c[5]:
            held.add(c[0])
    return held


def claim_rounds(
    conn: sqlite3.Connection,
    params: dict[str, Any],
    pairs: list[tuple[str, str]],
    room: dict[str, int | None],
    limit: int,
) -> list[Job]:
    """The flow-control claim, in rounds while the batch has room (see `flow.next_cap`):
    `room` is each queue's as the claim began, lowered by what each round starts. Rounds
    are direct (`direct_round`) while they can be, else read and decided (`_decided_round`)."""
    jobs: list[Job] = []
    room = dict(room)
    queues = len({q for q, _ in pairs})
    cap = per_queue_cap(limit, queues)
    # A queue of several commands ranks them together: decided rounds.
    direct = queues == len(pairs) <= MAX_DIRECT_PAIRS
    for _ in range(MAX_ROUNDS):
        left = limit - len(jobs)
        started = direct_round(conn, params, pairs, room, cap, left) if direct else None
        if started is None or started.short:
            direct = False
        if started is None:
            started = _decided_round(conn, params, pairs, room, cap, left)
        jobs += started.jobs
        for queue, n in started.per_queue.items():
            if (free := room.get(queue)) is not None:
                room[queue] = free - n
        most = max(started.per_queue.values(), default=0)
        cap = next_cap(cap, limit, len(jobs), most, started.parked or started.short)
        if not cap:
            break
    return jobs


@dataclass(frozen=True, slots=True, kw_only=True)
class Round:
    """The jobs a round started, and how many of each queue; how many it parked; whether it
    left the rest of the batch to a decided round: a queue gave fewer than it was offered (a
    key may hold a job back: a direct round cannot tell), or the last turn did not fit the
    batch."""

    jobs: list[Job]
    per_queue: Counter[str] = field(default_factory=Counter)
    parked: int = 0
    short: bool = False


def _decided_round(
    conn: sqlite3.Connection, params: dict[str, Any], pairs: list[tuple[str, str]],
    room: dict[str, int | None], cap: int, left: int,
) -> Round:  # fmt: skip
    """Read each pair's first jobs (`CANDIDATES`), `choose`, park and start."""
    rows = conn.execute(
        CANDIDATES, {"pairs": json.dumps(pairs), "now": params["now"], "per_queue": cap}
    ).fetchall()
    choice = choose(rows, room, cap, left)
    if choice.park:
        conn.execute(PARK, {"ids": json.dumps(choice.park)})
    if not choice.start:
        return Round(jobs=[], parked=len(choice.park))
    start = {**params, "ids": json.dumps(choice.start)}
    rows = conn.execute(START, start).fetchall()
    started = flow_claimed_jobs(conn, rows, _known(params))
    return Round(jobs=started, per_queue=Counter(map(_QUEUE_OF, rows)), parked=len(choice.park))


def direct_round(
    conn: sqlite3.Connection, params: dict[str, Any], pairs: list[tuple[str, str]],
    room: dict[str, int | None], cap: int, left: int,
) -> Round | None:  # fmt: skip
    """Start each pair's first `min(cap, room)` jobs, in the whole turns that fit the
    batch (`turns`), in one statement, without reading them first: where no key holds a job
    back, what a decided round starts. A keyed job whose key is at its limit (running jobs,
    store-wide, before the statement) is not started, and the decided rounds that follow
    park it (`short`). Two jobs of one key started together might exceed its limit: the
    round is then rolled back (None). None too when not one whole turn fits."""
    offered = [max(0, min(cap, left) if (free := room.get(q)) is None else min(cap, left, free))
               for q, _ in pairs]  # fmt: skip
    offers = turns(offered, left)
    if not any(offers):
        return None
    values: dict[str, Any] = {**params}
    for i, ((queue, command), n) in enumerate(zip(pairs, offers, strict=True)):
        values |= {f"q{i}": queue, f"c{i}": command, f"n{i}": n}
    conn.execute("SAVEPOINT direct_round")
    rows = conn.execute(_direct_sql(len(pairs)), values).fetchall()
    keys = [row[FLOW_KEY] for row in rows if row[FLOW_KEY] is not None]
    if len(set(keys)) < len(keys):
        conn.execute("ROLLBACK TO direct_round")
        conn.execute("RELEASE direct_round")
        return None
    conn.execute("RELEASE direct_round")
    jobs = flow_claimed_jobs(conn, rows, _known(params))
    # A direct round ranges over one pair a queue: its jobs per queue are per pair.
    per_queue = Counter(map(_QUEUE_OF, rows))
    short = any(per_queue[q] < n for (q, _), n in zip(pairs, offers, strict=True) if n > 0)
    return Round(jobs=jobs, per_queue=per_queue, short=short or offers != offered)


def _known(params: dict[str, Any]) -> tuple[str, str, int, int]:
    """The values of `rows.FLOW_KNOWN` for a claim's `params`."""
    return ("", params["owner"], params["now"], params["now"])


MAX_DIRECT_PAIRS = 32
"""The most pairs a direct round ranges over (a statement per count is compiled and kept;
SQLite allows 500 terms in a compound SELECT)."""


def turns(offers: list[int], left: int) -> list[int]:
    """How many of its `offers` each queue gives in the whole turns that fit in `left` (one
    job of each queue with jobs left, then a second of each, ...). A last turn that cannot
    take one of each goes to the oldest jobs (`choose`), which only a read tells."""
    if sum(offers) <= left:
        return offers
    given = [0] * len(offers)
    taken = 0
    for turn in range(1, max(offers) + 1):
        eligible = [i for i, n in enumerate(offers) if n >= turn]
        if taken + len(eligible) > left:
            break
        for i in eligible:
            given[i] += 1
        taken += len(eligible)
    return given


@functools.cache
def _direct_sql(n: int) -> str:
    """`direct_round`'s statement for `n` pairs: one range of the ready index each."""
    ranges = " UNION ALL ".join(
        f"""SELECT id FROM (SELECT id FROM background_job INDEXED BY ix_job_ready
            WHERE worker = '' AND queue = :q{i} AND command = :c{i} AND {READY}
              AND run_after <= :now AND (expires_at IS NULL OR expires_at > :now)
            ORDER BY priority DESC, run_after, id LIMIT :n{i})"""
        for i in range(n)
    )
    return f"""
UPDATE background_job
SET state = 'started', owner = :owner, attempts = attempts + 1, started_date = :now,
    last_activity_date = :now, cancel_requested = 0
WHERE id IN ({ranges})
  AND (concurrency_key IS NULL OR concurrency_limit > (
    SELECT count(*) FROM background_job r INDEXED BY ix_job_key_running
    WHERE r.concurrency_key = background_job.concurrency_key AND r.state = 'started'))
RETURNING {FLOW_SELECT}
"""
