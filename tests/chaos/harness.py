"""Chaos on one store: `jobs worker` processes killed and replaced while a producer enqueues.

Shared by the chaos suite (`tests/chaos/`) and the long form, `bench/soak.py`.
"""

from __future__ import annotations

import asyncio
import glob
import itertools
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from jobs_core import BackgroundJobs, EnqueueRequest, JobContext
from jobs_core.schedule import DEFAULT_MAX_CATCH_UP
from jobs_core.store.url import is_store_url, parse_store_url
from tests.ledger import read_lines

from .chaos_app import LEDGER_ENV

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.chaos.chaos_app:build"
LOCK_ERRORS = ("database is locked", "stayed locked", "database is busy")
"""What an engine would print if it lost a fight for the store's lock."""
START_SECS = 120.0
"""Deadline for `jobs worker` processes to start: a second each on a quiet machine, but
14 s was seen with three starting at load 16 on the 2-core machine."""


@dataclass
class Engine:
    """One `jobs worker` process and the file its stdout and stderr go to."""

    process: subprocess.Popen[bytes]
    output: Path

    def ready(self) -> bool:
        return b" (commands:" in self.output.read_bytes()


@dataclass
class EnginePool:
    """`jobs worker` processes on `directory`; `kill_and_replace` SIGKILLs one at random."""

    directory: str
    workdir: Path
    concurrency: int = 8
    engines: list[Engine] = field(default_factory=list)
    kills: int = 0
    seed: int = 0
    app: str = APP

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @property
    def ledger(self) -> Path:
        return self.workdir / "executions.txt"

    def start(self) -> Engine:
        output = self.workdir / f"engine-{len(self.engines)}.log"
        command = [
            sys.executable, "-m", "jobs_cli", "worker", "--app", self.app,
            "--concurrency", str(self.concurrency), self.directory,
        ]  # fmt: skip
        env = {**os.environ, LEDGER_ENV: str(self.ledger)}
        # A file, not a pipe: nobody reads a pipe while the test runs, and a full one would
        # block the engine's logging, then the engine.
        with open(output, "wb") as sink:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
            )
        engine = Engine(process=process, output=output)
        self.engines.append(engine)
        return engine

    def alive(self) -> list[Engine]:
        return [e for e in self.engines if e.process.poll() is None]

    def all_ready(self) -> bool:
        return all(e.ready() for e in self.engines)

    def running(self) -> list[Engine]:
        """Engines alive and past their start (their engine runs)."""
        return [e for e in self.alive() if e.ready()]

    def kill_and_replace(self) -> bool:
        """SIGKILL an engine (no chance to clean up), running or still starting, and start
        another; returns False, killing nothing, when that would leave no engine running.

        One running engine is always spared: on a loaded machine an engine takes seconds to
        start, and killing engines still starting left none running for tens of seconds
        (78 started, 8 ever ran in one 45 s run), which tested nothing but the deadline.
        Engines still starting stay victims, so a kill still lands mid-start (migrating,
        registering, recovering) as it does on a quiet machine.
        """
        running = self.running()
        if not running:
            return False
        spared = self._rng.choice(running)
        victims = [e for e in self.alive() if e is not spared]
        if not victims:
            return False
        victim = self._rng.choice(victims)
        victim.process.kill()
        victim.process.wait()
        self.kills += 1
        self.start()
        return True

    async def keep_killing(self, every: float, stop: asyncio.Event) -> None:
        """`kill_and_replace` every `every` seconds (or later, while no engine runs to spare)
        until `stop` is set."""
        while not stop.is_set():
            try:
                async with asyncio.timeout(every):
                    await stop.wait()
            except TimeoutError:
                self.kill_and_replace()

    def stop_all(self, timeout: float = 30.0) -> None:
        """SIGTERM every engine still running (they drain), then wait for them."""
        for engine in self.alive():
            engine.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for engine in self.engines:
            try:
                engine.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                engine.process.kill()
                engine.process.wait()

    def kill_all(self) -> None:
        for engine in self.alive():
            engine.process.kill()
            engine.process.wait()

    def output(self) -> str:
        """Everything every engine printed."""
        return "".join(e.output.read_text(errors="replace") for e in self.engines)

    def lock_errors(self) -> list[str]:
        return [line for line in self.output().splitlines() if _mentions_lock(line)]

    def executions(self) -> Counter[int]:
        """How many times each job id started executing, from the ledger."""
        return Counter(int(line.split()[0]) for line in read_lines(self.ledger))


def _mentions_lock(line: str) -> bool:
    lowered = line.lower()
    return any(text in lowered for text in LOCK_ERRORS)


def producer(directory: str) -> BackgroundJobs:
    """A facade that only enqueues and reads (the engines run the chaos app)."""
    jobs = BackgroundJobs(directory, start_engine=False)

    async def placeholder(ctx: JobContext) -> None:
        raise AssertionError("the producer never runs jobs")

    for name in ("work", "tick"):
        jobs.command(name)(placeholder)
    return jobs


CREATOR = "chaos"
SINGLE_ROUTES: tuple[dict[str, Any], ...] = (
    {},
    {"priority": 1},
    {"queue": "chaos"},
    {"created_by": CREATOR},
)
"""Options of single enqueues in turn: plain, routed jobs too go through the SQLite store's
inbox (a creator's as well, moved in whole), and a claim weighs them with the plain ones."""


async def produce(
    jobs: BackgroundJobs, total: int, *, batch: int = 50, pause: float = 0.2,
    created: set[int] | None = None,
) -> list[int]:  # fmt: skip
    """Enqueue `total` jobs, half with single `enqueue` calls (in turn plain, with a
    priority, in a queue of their own, with a creator: `SINGLE_ROUTES`), half with
    `enqueue_many`, in rounds of `batch` of each with `pause` seconds between; returns their
    ids, and adds those enqueued with a creator to `created`."""
    ids: list[int] = []
    n = 0
    while n < total:
        singles = min(batch, (total - n + 1) // 2)
        for _ in range(singles):
            route = SINGLE_ROUTES[n % len(SINGLE_ROUTES)]
            job_id = (await jobs.enqueue("work", {"n": n, "ms": n % 20}, **route)).id
            ids.append(job_id)
            if created is not None and route.get("created_by"):
                created.add(job_id)
            n += 1
        many = min(batch, total - n)
        refs = await jobs.enqueue_many(
            [
                EnqueueRequest(command="work", request={"n": n + i, "ms": (n + i) % 20})
                for i in range(many)
            ]
        )
        ids.extend(r.id for r in refs)
        n += many
        await asyncio.sleep(pause)
    return ids


@dataclass(frozen=True)
class Archived:
    """What the chaos checks read of one archived job row."""

    id: int
    created_date: int
    meta: dict[str, str]
    created_by: str | None = None


FINISHED = "state IN ('completed', 'failed', 'cancelled')"


async def archived(location: str, table: str) -> list[Archived]:
    """Every row of `table` (completed_job or failed_job): across the store's month files,
    or across the month partitions on PostgreSQL."""
    if is_store_url(location):
        rows = await _pg_fetch(
            location, f"SELECT id, created_date, meta::text, created_by FROM {table}"
        )
    else:
        rows = []
        for path in sorted(glob.glob(os.path.join(location, "jobs_*.db"))):
            rows += _sqlite_fetch(path, f"SELECT id, created_date, meta, created_by FROM {table}")
    return [
        Archived(id=r[0], created_date=r[1], meta=json.loads(r[2] or "{}"), created_by=r[3])
        for r in rows
    ]


async def archived_rows(location: str, table: str) -> Counter[int]:
    """How many rows each job id has in `table`, across every month of the store."""
    return Counter(row.id for row in await archived(location, table))


async def live_finished(location: str) -> int:
    """Finished jobs still in the live store, waiting to be archived."""
    sql = f"SELECT count(*) FROM background_job WHERE {FINISHED}"
    if is_store_url(location):
        rows = await _pg_fetch(location, sql)
    else:
        rows = _sqlite_fetch(os.path.join(location, "jobs.db"), sql)
    return int(rows[0][0])


def _sqlite_fetch(path: str, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def _pg_fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of `sql` on the store's schema, read behind the store's back."""
    parsed = parse_store_url(url)
    conn = await asyncpg.connect(parsed.dsn, server_settings={"search_path": parsed.schema})
    try:
        return [tuple(row) for row in await conn.fetch(sql)]
    finally:
        await conn.close()


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotProblems:
    """What `slot_problems` found among an interval task's runs."""

    twice: int
    """Slots enqueued more than once."""
    skipped: int
    """Gaps where a slot is missing that the `catch_up` policy should have run."""
    dropped: int
    """Slots the documented catch-up limit dropped: older than the newest `max_catch_up`
    due at one tick (an outage longer than `max_catch_up` intervals)."""


def slot_problems(
    runs: list[Archived], interval_ms: int, max_catch_up: int = DEFAULT_MAX_CATCH_UP
) -> SlotProblems:
    """Check an interval task's runs (`missed="catch_up"`, `overlap="allow"`) slot by slot.

    A slot follows the previous one by the interval (catching up) or the previous run's
    enqueue by the interval (on time). The one other gap allowed is the catch-up limit's: a
    tick that found more than `max_catch_up` slots due enqueued the newest `max_catch_up`
    together, and the older ones, before its first, are dropped (and logged as missed).
    """
    ordered = sorted(runs, key=lambda r: r.id)
    slots = [_slot(r) for r in ordered]
    batch_sizes = Counter(r.created_date for r in ordered)  # one tick's runs share it
    skipped = dropped = 0
    for before, after in itertools.pairwise(ordered):
        if _slot(after) in (_slot(before) + interval_ms, before.created_date + interval_ms):
            continue
        missing, rest = divmod(_slot(after) - before.created_date - interval_ms, interval_ms)
        limited = batch_sizes[after.created_date] == max_catch_up
        if after.created_date != before.created_date and limited and missing > 0 and not rest:
            dropped += missing
        else:
            skipped += 1
    return SlotProblems(twice=len(slots) - len(set(slots)), skipped=skipped, dropped=dropped)


def _slot(run: Archived) -> int:
    return int(run.meta["scheduled_for"])


MISSED_RUNS = re.compile(r"scheduled task '[^']*': (\d+) missed run\(s\) not run")


def missed_runs_logged(output: str) -> int:
    """How many missed runs the engines' scheduler warned of in `output`."""
    return sum(int(count) for count in MISSED_RUNS.findall(output))
