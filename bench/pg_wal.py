"""What each phase of the PostgreSQL store's batched path writes, a job: WAL bytes
(`pg_current_wal_insert_lsn`) and the tables' row inserts, updates (HOT ones apart) and
deletes, this tree against another revision. Steady counts: a shared machine's load does
not move them.

Usage: uv run python bench/pg_wal.py [--base REV] [--store pg|URL] [--jobs 20000]
       [--batch 100]

`pg_store_cpu.py`'s loop (enqueues of 500, claims and finishes of --batch, no engine), each
phase's WAL position read from a second connection before and after it. Then, per table,
the row writes of the run (`pg_stat_user_tables`, read a second after the last write: the
backends flush their statistics at most once a second). `pg_stat_wal`'s record counts lag
the same way and are left out; for records by kind, `pg_waldump --stats=record` over one
phase's positions (bench/README.md, issue 9's tenth pass). Prints a table and a final JSON
line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from typing import Any

import asyncpg
from _common import extract_revision, final_line, print_table
from _stores import Stores
from pg_cpu import run_in
from pg_store_cpu import NOW, OWNER, PHASES, _completed, _job


async def _wal(conn: Any) -> int:
    """The WAL insert position, in bytes."""
    return int(await conn.fetchval("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn"))


async def one_run(url: str, n: int, batch: int) -> dict[str, float]:
    from jobs_core.records import JobState
    from jobs_core.store.postgres.store import PostgresStore
    from jobs_core.store.protocol import NewJob, Transition
    from jobs_core.store.url import parse_store_url

    store = PostgresStore(url)
    await store.open()
    await store.enqueue([_job(NewJob, -1)], NOW)
    warm = await store.claim(owner=OWNER, commands=["noop"], named=False, limit=1, now=NOW)
    await store.finish([_completed(Transition, JobState, j.id) for j in warm], [], NOW)
    schema = parse_store_url(url).schema
    conn = await asyncpg.connect(parse_store_url(url).dsn)
    # A checkpoint first: the full-page images a run writes (each page's first change after
    # a checkpoint) then depend on the run alone.
    totals = {f"{p}_bytes": 0.0 for p in PHASES}

    async def phase(name: str, work: Any) -> Any:
        before = await _wal(conn)
        result = await work
        totals[f"{name}_bytes"] += await _wal(conn) - before
        return result

    await conn.execute("CHECKPOINT")
    tables0 = await _tables(conn, schema)
    for first in range(0, n, 500):
        jobs = [_job(NewJob, i) for i in range(first, min(n, first + 500))]
        await phase("enqueue", store.enqueue(jobs, NOW))
    done = 0
    while done < n:
        claimed = await phase(
            "claim",
            store.claim(owner=OWNER, commands=["noop"], named=False, limit=batch, now=NOW),
        )
        done += len(claimed)
        transitions = [_completed(Transition, JobState, j.id) for j in claimed]
        await phase("finish", store.finish(transitions, [], NOW))
    await store.close()
    await asyncio.sleep(1.1)  # backends flush their table statistics at most every second
    tables = await _tables(conn, schema)
    await conn.close()
    out = {k: v / n for k, v in totals.items()}
    for table, counts in tables.items():
        for key, value in counts.items():
            delta = value - tables0.get(table, {}).get(key, 0)
            if delta:
                out[f"{table}.{key}"] = delta / n
    return out


async def _tables(conn: Any, schema: str) -> dict[str, dict[str, int]]:
    rows = await conn.fetch(
        """SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del
           FROM pg_stat_user_tables WHERE schemaname = $1""",
        schema,
    )
    return {r["relname"]: {"ins": r[1], "upd": r[2], "hot": r[3], "del": r[4]} for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="pg", metavar="pg|URL")
    parser.add_argument("--base", help="a revision to compare with")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100, help="jobs per claim and finish")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        url, n, batch = args.one
        print(json.dumps(asyncio.run(one_run(url, int(n), int(batch)))))
        return
    stores = Stores(args.store, None)
    results: dict[str, dict[str, float]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="jobs-pg-wal-") as base_tree:
            trees: dict[str, str | None] = {"this tree": None}
            if args.base:
                extract_revision(args.base, base_tree)
                trees = {args.base: base_tree, **trees}
            for name, path in trees.items():
                with stores.fresh("pg-wal-", "FULL") as url:
                    results[name] = run_in(path, url, args.jobs, args.batch, __file__)
        where = stores.describe()
    finally:
        stores.close()
    keys = sorted({k for r in results.values() for k in r})
    print(f"a job, {args.jobs:,} no-op jobs, claims and finishes of {args.batch}, {where}")
    print_table(
        ["what", *results], [[k, *(f"{r.get(k, 0):.2f}" for r in results.values())] for k in keys]
    )
    final_line({"bench": "pg_wal", "base": args.base, **results})


if __name__ == "__main__":
    main()
