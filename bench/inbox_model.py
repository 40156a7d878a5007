"""A model of issue 13 (a) and (e) in bare SQLite: the write lock shared by a producer and an
engine (one file, jobs' design) against a producer that appends to a file of its own.

Usage: uv run python bench/inbox_model.py [--rounds 2] [--jobs 20000] [--producer-us 20]
           [--engine-us 20] [--durability NORMAL|FULL]

One producer process awaits one committed INSERT per job; an engine process claims up to 100
ready jobs a transaction, "runs" them (no-op) and deletes them with its next claim (the
archive, simplified). `one`: both write `jobs.db` (the producer inserts ready rows, the
engine's claim is an UPDATE ... RETURNING over a partial ready index, as the store's).
`two`: the producer appends to `inbox.db`; the engine reads the inbox past its mark (no
lock), inserts the rows into `jobs.db` as running and moves its mark in the same
transaction, and trims the inbox every 2,000 jobs (the only write it makes to the
producer's file). `--producer-us` and `--engine-us`: Python work simulated per job outside
the lock (the library's own: ~20 µs each). Busy writers poll every 50 µs, as the store.
Not the library: the SQL of its schema is richer; what to read is the ratio of the two
layouts under one set of costs. Rounds alternate the layouts; prints a table (medians)
and a final JSON line; each run checks that every job ran.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from _common import final_line, median, print_table, rotated

BODY = '{"i": 0, "pad": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}'


def busy(us: float) -> None:
    end = time.perf_counter() + us / 1e6
    while time.perf_counter() < end:
        pass


def connect(path: str, durability: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={durability}")
    return conn


def write(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], Any]) -> Any:
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # locked: poll again soon
            time.sleep(0.00005)
            continue
        try:
            result = fn(conn)
            conn.execute("COMMIT")
            return result
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def setup(directory: str) -> None:
    jobs = connect(os.path.join(directory, "jobs.db"), "NORMAL")
    jobs.execute("CREATE TABLE job(id INTEGER PRIMARY KEY, state INT, body TEXT, owner TEXT)")
    jobs.execute("CREATE INDEX ix_ready ON job(id) WHERE state = 0")
    jobs.execute("CREATE TABLE mark(k INT PRIMARY KEY, v INT)")
    jobs.execute("INSERT INTO mark VALUES (0, 0)")
    inbox = connect(os.path.join(directory, "inbox.db"), "NORMAL")
    inbox.execute("CREATE TABLE inbox(id INTEGER PRIMARY KEY, body TEXT)")
    jobs.close()
    inbox.close()


def producer(directory: str, layout: str, n: int, us: float, durability: str) -> None:
    conn = connect(os.path.join(directory, "jobs.db" if layout == "one" else "inbox.db"),
                   durability)  # fmt: skip
    sql = ("INSERT INTO job(state, body) VALUES (0, ?)" if layout == "one"
           else "INSERT INTO inbox(body) VALUES (?)")  # fmt: skip
    for _ in range(n):
        busy(us)
        write(conn, lambda c: c.execute(sql, (BODY,)))


def engine(directory: str, layout: str, n: int, us: float, durability: str) -> None:
    jobs = connect(os.path.join(directory, "jobs.db"), durability)
    inbox = connect(os.path.join(directory, "inbox.db"), durability)
    done, running, trimmed = 0, [], 0
    while done < n:
        finished = running

        def turn(conn: sqlite3.Connection, finished: list[int] = finished) -> list[int]:
            if finished:
                marks = ",".join("?" * len(finished))
                conn.execute(f"DELETE FROM job WHERE id IN ({marks})", finished)
            if layout == "one":
                return [r[0] for r in conn.execute(
                    "UPDATE job SET state = 1, owner = 'e' WHERE id IN "
                    "(SELECT id FROM job WHERE state = 0 ORDER BY id LIMIT 100) RETURNING id"
                )]  # fmt: skip
            mark = conn.execute("SELECT v FROM mark").fetchone()[0]
            rows = inbox.execute(
                "SELECT id, body FROM inbox WHERE id > ? ORDER BY id LIMIT 100", (mark,)
            ).fetchall()
            if rows:
                conn.executemany(
                    "INSERT INTO job(id, state, body, owner) VALUES (?, 1, ?, 'e')", rows
                )
                conn.execute("UPDATE mark SET v = ?", (rows[-1][0],))
            return [r[0] for r in rows]

        probe = "SELECT 1 FROM job WHERE state = 0 LIMIT 1"  # before the lock, as the store's
        if not finished and layout == "one" and not jobs.execute(probe).fetchone():
            time.sleep(0.0002)
            continue
        running = write(jobs, turn)
        done += len(finished)
        for _ in running:
            busy(us)
        if layout == "two" and running and running[-1] - trimmed > 2000:
            upto = running[-1]
            write(inbox, lambda c, upto=upto: c.execute("DELETE FROM inbox WHERE id <= ?", (upto,)))
            trimmed = upto
        if not running and not finished:
            time.sleep(0.0002)
    print(done, flush=True)


def run_once(layout: str, args: argparse.Namespace) -> dict[str, float]:
    """One run: the producer's rate and the end-to-end rate (to the engine's last job)."""
    with tempfile.TemporaryDirectory(prefix="jobs-inbox-model-") as directory:
        setup(directory)
        common = [directory, layout, str(args.jobs)]
        eng = subprocess.Popen(
            [sys.executable, __file__, "engine", *common, str(args.engine_us), args.durability],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(0.3)
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "producer", *common, str(args.producer_us),
             args.durability],
            check=True,
        )  # fmt: skip
        produced = time.perf_counter() - began
        out, _ = eng.communicate(timeout=600)
        ended = time.perf_counter() - began
    if int(out.strip()) != args.jobs:
        sys.exit(f"{layout}: the engine ran {out.strip()} jobs, expected {args.jobs}")
    return {"producer": args.jobs / produced, "e2e": args.jobs / ended}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("producer", "engine"):
        role, directory, layout, n, us, durability = sys.argv[1:7]
        (producer if role == "producer" else engine)(directory, layout, int(n), float(us),
                                                     durability)  # fmt: skip
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--producer-us", type=float, default=20.0)
    parser.add_argument("--engine-us", type=float, default=20.0)
    parser.add_argument("--durability", default="NORMAL", choices=["NORMAL", "FULL"])
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"one": [], "two": []}
    for n in range(args.rounds):
        for layout in rotated(list(runs), n):
            runs[layout].append(run_once(layout, args))
            print(f"round {n + 1} {layout}: {runs[layout][-1]['e2e']:,.0f} jobs/s end to end",
                  flush=True)  # fmt: skip
    e2e = {k: median([r["e2e"] for r in v]) for k, v in runs.items()}
    print(
        f"{args.jobs:,} jobs, {args.durability}, Python simulated a job: producer "
        f"{args.producer_us:g} µs, engine {args.engine_us:g} µs; medians of {args.rounds}"
    )
    print_table(
        ["layout", "end to end jobs/s", "producer jobs/s"],
        [["one file (jobs' design)", f"{e2e['one']:,.0f}",
          f"{median([r['producer'] for r in runs['one']]):,.0f}"],
         ["producer's own file", f"{e2e['two']:,.0f}",
          f"{median([r['producer'] for r in runs['two']]):,.0f}"],
         ["ratio", f"{e2e['two'] / e2e['one']:.2f}x", ""]],
    )  # fmt: skip
    final_line({"bench": "inbox_model", "durability": args.durability, "jobs": args.jobs,
                "one_e2e_per_s": e2e["one"], "two_e2e_per_s": e2e["two"],
                "ratio": e2e["two"] / e2e["one"]})  # fmt: skip


if __name__ == "__main__":
    main()
