"""The inbox (`jobs_core/store/sqlite/inbox.py`): plain jobs appended to `jobs.inbox`, moved
into `jobs.db` exactly once by whichever writer comes next, seen by every read, numbered
without gaps in one process, never waiting for the lock an engine holds on `jobs.db`."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from jobs_core import (
    BackgroundJobs,
    Durability,
    EnqueueRequest,
    Job,
    JobRef,
    JobState,
    RetryPolicy,
    StoreBusyError,
    StoreError,
)
from jobs_core.store.protocol import NewJob, Transition
from jobs_core.store.sqlite import inbox
from jobs_core.store.sqlite.store import SqliteStore
from tests.conftest import FAST, MakeJobs, wait_until
from tests.store.test_busy import locked, waits_for_the_lock

ROOT = Path(__file__).resolve().parents[2]


async def item(req: dict[str, int]) -> None:
    return None


async def producer(make_jobs: MakeJobs) -> BackgroundJobs:
    """A store with no engine and `item` registered, opened by a first job (its ids
    reserved)."""
    jobs = make_jobs(start_engine=False)
    jobs.command(item)
    await jobs.enqueue("item", {"n": 0})
    return jobs


def with_item(make_jobs: MakeJobs) -> BackgroundJobs:
    """A store with no engine and `item` registered."""
    jobs = make_jobs(start_engine=False)
    jobs.command(item)
    return jobs


async def items(jobs: BackgroundJobs, count: int, first: int = 0) -> list[JobRef]:
    """`count` plain `item` jobs enqueued one at a time (to the inbox)."""
    return [await jobs.enqueue("item", {"n": n}) for n in range(first, first + count)]


async def claim_ids(jobs: BackgroundJobs, limit: int, now: int | None = None) -> list[int]:
    """The ids of a default claim of `item` jobs by engine "e" (at `now`: the clock's)."""
    at = jobs.clock.now_ms() if now is None else now
    claimed = await jobs.store.claim(owner="e", commands=["item"], named=False, limit=limit, now=at)
    return [j.id for j in claimed]


def inbox_rows(store_dir: str) -> int:
    with sqlite3.connect(os.path.join(store_dir, inbox.INBOX_FILE)) as conn:
        count: int = conn.execute("SELECT count(*) FROM inbox").fetchone()[0]
    conn.close()
    return count


def live_ids(store_dir: str) -> list[int]:
    with sqlite3.connect(os.path.join(store_dir, "jobs.db")) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM background_job ORDER BY id")]
    conn.close()
    return ids


async def test_a_plain_enqueue_does_not_wait_for_the_lock_on_jobs_db(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    jobs = await producer(make_jobs)
    with locked(store_dir):  # as an engine's claim or finish would hold it
        started = time.monotonic()
        ref = await asyncio.wait_for(jobs.enqueue("item", {"n": 1}), 5)
        took = time.monotonic() - started
        assert inbox_rows(store_dir) == 2  # durable in the inbox, not yet in jobs.db
    assert took < 0.5
    assert (await jobs.get_job(ref.id)).job is not None  # the read moved it in first
    assert live_ids(store_dir) == [ref.id - 1, ref.id]


async def test_one_process_numbers_its_jobs_without_gaps_whatever_path_they_take(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(start_engine=False)
    jobs.command(item)
    ids = [(await jobs.enqueue("item", {"n": 0})).id]  # the inbox
    ids.append((await jobs.enqueue("item", {"n": 1}, ref_id="one")).id)  # jobs.db
    ids.append((await jobs.enqueue("item", {"n": 2})).id)
    batch = [EnqueueRequest(command="item", request={"n": n}) for n in range(20)]
    ids += [r.id for r in await jobs.enqueue_many(batch)]  # jobs.db, more than MOST_JOBS
    ids.append((await jobs.enqueue("item", {"n": 3}, priority=2)).id)
    ids.append((await jobs.enqueue("item", {"n": 4})).id)
    assert ids == list(range(1, 26))
    assert await jobs.count_jobs() == 25


async def test_two_producers_get_distinct_ids_and_every_job_is_moved_once(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    first, second = make_jobs(start_engine=False), make_jobs(start_engine=False)
    for jobs in (first, second):
        jobs.command(item)
    refs = []
    for n in range(30):  # interleaved: each numbers from a block of its own
        refs.append(await (first if n % 2 else second).enqueue("item", {"n": n}))
    ids = [r.id for r in refs]
    assert len(set(ids)) == 30
    assert await first.count_jobs() == 30
    assert await second.count_jobs() == 30
    assert live_ids(store_dir) == sorted(ids)


async def test_a_reader_in_another_store_sees_every_job_enqueued_before_it(
    make_jobs: MakeJobs,
) -> None:
    producer, reader = make_jobs(start_engine=False), make_jobs(start_engine=False)
    producer.command(item)
    ref = await producer.enqueue("item", {"n": 1})
    found = await reader.get_job(ref.id)
    assert found.job is not None and found.job.state is JobState.QUEUED
    assert (await reader.counts())[JobState.QUEUED] == 1


async def test_a_read_only_store_sees_a_producers_jobs_once_it_moved_them_itself(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    producer = make_jobs(start_engine=False)
    producer.command(item)
    await producer.enqueue("item", {"n": 0})
    observer = make_jobs(read_only=True)
    ref = await producer.enqueue("item", {"n": 1})  # no engine runs: no writer moves it

    async def seen() -> bool:
        return (await observer.counts())[JobState.QUEUED] == 2

    # The producer moves it in `MOVE_AFTER_SECS` (its loop runs while this test waits).
    await wait_until(seen, timeout=5, what="the read-only store to see the job")
    assert (await observer.get_job(ref.id)).job is not None


async def test_a_claim_takes_ready_jobs_first_then_starts_the_inbox_in_order(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    jobs = make_jobs(start_engine=False)
    jobs.command(item)
    older = await jobs.enqueue("item", {"n": 0}, ref_id="to jobs.db")  # a lookup: `jobs.db`
    plain = await items(jobs, 3, 1)
    store = jobs.store
    now = jobs.clock.now_ms()
    claim = {"owner": "e", "commands": ["item"], "named": False, "now": now}
    first = await store.claim(limit=2, **claim)
    assert [j.id for j in first] == [older.id, plain[0].id]
    assert all(j.state is JobState.STARTED and j.owner == "e" for j in first)
    rest = await store.claim(limit=10, **claim)
    assert [j.id for j in rest] == [p.id for p in plain[1:]]
    assert (await jobs.counts())[JobState.STARTED] == 4
    assert inbox_rows(store_dir) <= 3  # moved; trimmed later


async def enqueued_beside_the_lock(
    jobs: BackgroundJobs, store_dir: str, options: dict[str, Any]
) -> Job:
    """The second job of `producer`'s store, enqueued with `options` while `jobs.db`'s write
    lock is held: it must not wait (it goes to the inbox), and is then read back queued."""
    with locked(store_dir):  # nothing of it needs `jobs.db`: it does not wait
        started = time.monotonic()
        ref = await asyncio.wait_for(jobs.enqueue("item", {"n": 1}, **options), 5)
        assert time.monotonic() - started < 0.5
        assert inbox_rows(store_dir) == 2
    job = (await jobs.get_job(ref.id)).job
    assert job is not None and job.state is JobState.QUEUED
    return job


async def test_a_job_with_a_queue_priority_key_and_expiry_goes_through_the_inbox_whole(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    jobs = await producer(make_jobs)
    options = {
        "queue": "mail", "priority": 3, "concurrency_key": "user:7", "concurrency_limit": 2,
        "expires_in": timedelta(hours=1), "retry": RetryPolicy(backoff="fixed", base=2.0),
        "tag": "welcome",
    }  # fmt: skip
    job = await enqueued_beside_the_lock(jobs, store_dir, options)
    assert (job.queue, job.priority, job.concurrency_key, job.concurrency_limit, job.tag) == (
        "mail",
        3,
        "user:7",
        2,
        "welcome",
    )
    assert job.expires_at is not None and job.expires_at > jobs.clock.now_ms()
    assert job.retry_policy == RetryPolicy(backoff="fixed", base=2.0)
    plain = (await jobs.get_job(job.id - 1)).job
    assert plain is not None and (plain.queue, plain.priority, plain.tag) == ("default", 0, None)
    assert (plain.concurrency_key, plain.expires_at, plain.retry_policy) == (None, None, None)


async def test_a_job_with_a_creator_user_callback_reply_to_and_args_goes_through_the_inbox_whole(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    jobs = await producer(make_jobs)
    jobs.command(name="later")(item)
    options = {
        "created_by": "web", "user_id": "u7", "callback": "later",
        "reply_to": "http://127.0.0.1:9/hook", "args": {"lang": "en"},
    }  # fmt: skip
    job = await enqueued_beside_the_lock(jobs, store_dir, options)
    assert (job.created_by, job.user_id, job.callback, job.reply_to, job.args) == (
        "web",
        "u7",
        "later",
        "http://127.0.0.1:9/hook",
        {"lang": "en"},
    )


async def test_plain_routed_and_created_jobs_enqueued_together_keep_their_own_columns(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    # One group commit of rows of three widths (`inbox.append` pads them to the widest).
    jobs = await producer(make_jobs)
    options: list[dict[str, object]] = [{}, {"queue": "mail"}, {"created_by": "web"}] * 2
    with locked(store_dir):
        refs = await asyncio.wait_for(
            asyncio.gather(*(jobs.enqueue("item", {"n": n}, **o) for n, o in enumerate(options))),  # type: ignore[arg-type]
            5,
        )
        assert inbox_rows(store_dir) == 7
    found = [(await jobs.get_job(r.id)).job for r in refs]
    assert [(j.queue, j.created_by) for j in found if j is not None] == [
        ("default", None), ("mail", None), ("default", "web"),
    ] * 2  # fmt: skip


@pytest.mark.usefixtures("unmoved")
async def test_plain_inbox_jobs_behind_a_job_with_a_creator_are_not_started_ahead_of_it(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    # A row setting only a creator is routed: a claim moves it in whole, and never starts
    # it (or the plain rows behind it) straight from the inbox, which copies no such column.
    jobs = with_item(make_jobs)
    first = await jobs.enqueue("item", {"n": 0})
    created = await jobs.enqueue("item", {"n": 1}, created_by="web")
    last = await jobs.enqueue("item", {"n": 2})
    assert inbox_rows(store_dir) == 3 and live_ids(store_dir) == []
    assert await claim_ids(jobs, 10) == [first.id, created.id, last.id]
    job = (await jobs.get_job(created.id)).job
    assert job is not None and job.created_by == "web" and job.state is JobState.STARTED


async def test_a_process_of_schema_11_fails_at_its_move_once_the_inbox_is_upgraded(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    # Schema 11's statement for the first routed row (its WHERE lacks the creator, user,
    # callback, reply_to and args): a process of that version still running when a newer
    # one upgrades the inbox must not take a row with a creator for a plain one.
    old_first_routed = (
        "SELECT min(seq) FROM inbox INDEXED BY ix_inbox_routed WHERE seq > 0 AND (queue IS NOT"
        " NULL OR priority IS NOT NULL OR concurrency_key IS NOT NULL OR concurrency_limit IS"
        " NOT NULL OR expires_at IS NOT NULL OR retry_policy IS NOT NULL OR tag IS NOT NULL OR"
        " meta IS NOT NULL)"
    )
    await (await producer(make_jobs)).close()
    path = os.path.join(store_dir, inbox.INBOX_FILE)
    with sqlite3.connect(path) as conn:  # the inbox as schema 11 left it
        conn.execute(f"DROP INDEX {inbox.ROUTED_INDEX_NAME}")
        conn.execute(
            "CREATE INDEX ix_inbox_routed ON inbox(seq) WHERE (queue IS NOT NULL OR priority IS"
            " NOT NULL OR concurrency_key IS NOT NULL OR concurrency_limit IS NOT NULL OR"
            " expires_at IS NOT NULL OR retry_policy IS NOT NULL OR tag IS NOT NULL OR meta IS"
            " NOT NULL)"
        )
        assert conn.execute(old_first_routed).fetchone() == (None,)
    conn.close()
    second = with_item(make_jobs)
    ref = await second.enqueue("item", {"n": 1}, created_by="web")
    with (
        sqlite3.connect(path) as conn,
        pytest.raises(sqlite3.OperationalError, match="no such index"),
    ):
        conn.execute(old_first_routed)
    conn.close()
    job = (await second.get_job(ref.id)).job
    assert job is not None and job.created_by == "web"


@pytest.fixture
def unmoved(monkeypatch: pytest.MonkeyPatch) -> None:
    """A producer's own move of its jobs (`MOVE_AFTER_SECS` after it appended) put off: the
    jobs stay in the inbox until a write moves them, however slow the machine."""
    monkeypatch.setattr("jobs_core.store.sqlite.store.MOVE_AFTER_SECS", 60.0)


@pytest.mark.usefixtures("unmoved")
async def test_a_claim_weighs_routed_inbox_jobs_by_priority_with_the_plain_ones(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    jobs = with_item(make_jobs)
    plain = await items(jobs, 3)
    urgent = [await jobs.enqueue("item", {"n": n}, priority=5) for n in range(3)]
    assert inbox_rows(store_dir) == 6 and live_ids(store_dir) == []  # all in the inbox
    assert await claim_ids(jobs, 4) == [u.id for u in urgent] + [plain[0].id]


@pytest.mark.usefixtures("unmoved")
async def test_plain_inbox_jobs_behind_a_routed_one_are_not_started_ahead_of_it(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    # The claim moves routed rows in before it decides; a routed row appended while it ran
    # still stops the direct start of the plain rows behind it (`inbox.START_MOVED`).
    jobs = make_jobs(start_engine=False)
    jobs.command(item)
    first = await jobs.enqueue("item", {"n": 0})
    routed = await jobs.enqueue("item", {"n": 1}, tag="routed")
    last = await jobs.enqueue("item", {"n": 2})
    store = jobs.store
    assert isinstance(store, SqliteStore) and store._inbox is not None
    box, now = store._inbox, jobs.clock.now_ms()

    def start(conn: sqlite3.Connection) -> list[object]:
        return box.start_moved(conn, "e", '["item"]', 10, now)

    started = await store._write(start, move_first=False)
    assert [row[0] for row in started] == [first.id]  # type: ignore[index]
    states = {r.id: (await jobs.get_job(r.id)).job.state for r in (first, routed, last)}  # type: ignore[union-attr]
    assert states == {
        first.id: JobState.STARTED,
        routed.id: JobState.QUEUED,
        last.id: JobState.QUEUED,
    }
    claimed = await store.claim(owner="e", commands=["item"], named=False, limit=10, now=now)
    assert [j.id for j in claimed] == [routed.id, last.id]  # first in, first out


@pytest.mark.usefixtures("unmoved")
async def test_a_claim_starts_the_inbox_up_to_its_room_and_leaves_the_rest_there(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    # An engine behind its producer starts each claim's jobs from the inbox: the jobs past
    # its room stay there for the next claim, not moved queued (a ready-index entry
    # written, then a claim's update: ~4 µs a job of the engine's loop).
    jobs = with_item(make_jobs)
    refs = await items(jobs, 6)
    assert await claim_ids(jobs, 2) == [r.id for r in refs[:2]]
    assert live_ids(store_dir) == [r.id for r in refs[:2]]  # the other four still wait
    assert await claim_ids(jobs, 10) == [r.id for r in refs[2:]]
    assert (await jobs.counts())[JobState.STARTED] == 6


@pytest.mark.usefixtures("unmoved")
async def test_a_ready_job_of_lower_priority_waits_for_the_jobs_left_in_the_inbox(
    make_jobs: MakeJobs,
) -> None:
    jobs = with_item(make_jobs)
    later = timedelta(hours=1)
    low = await jobs.enqueue("item", {"n": 0}, priority=-1, ref_id="low", run_after=later)
    plain = await items(jobs, 3, 1)
    assert await claim_ids(jobs, 1) == [plain[0].id]  # two plain jobs left in the inbox
    # Two hours on, the low job is due: the plain jobs still rank ahead of it.
    then = jobs.clock.now_ms() + 2 * 3_600_000
    assert await claim_ids(jobs, 2, then) == [p.id for p in plain[1:]]
    assert await claim_ids(jobs, 2, then) == [low.id]


@pytest.mark.usefixtures("unmoved")
async def test_a_ready_job_of_another_queue_takes_turns_with_the_jobs_in_the_inbox(
    make_jobs: MakeJobs,
) -> None:
    jobs = with_item(make_jobs)
    mail = [await jobs.enqueue("item", {"n": n}, queue="mail", ref_id=f"m{n}") for n in range(3)]
    plain = await items(jobs, 3, 3)
    assert sorted(await claim_ids(jobs, 2)) == [mail[0].id, plain[0].id]


@pytest.mark.usefixtures("unmoved")
async def test_a_job_a_finish_inserts_runs_after_the_jobs_left_in_the_inbox(
    make_jobs: MakeJobs,
) -> None:
    jobs = with_item(make_jobs)
    refs = await items(jobs, 2)
    now = jobs.clock.now_ms()
    assert await claim_ids(jobs, 1, now) == [refs[0].id]  # one left in the inbox
    done = Transition(
        job_id=refs[0].id, state=JobState.COMPLETED, owner_guard="e", response_type="dict",
        response_body="{}", progress=1.0,
    )  # fmt: skip
    follow = NewJob(command="item", request_type="dict", request_body='{"n": 9}', worker="",
                    run_after=now, retry_limit=0, timeout_secs=60)  # fmt: skip
    result = await jobs.store.finish([done], [follow], now)
    (follow_id,) = result.new_job_ids
    assert follow_id > refs[1].id
    assert await claim_ids(jobs, 1, now) == [refs[1].id]  # first in, first out
    assert await claim_ids(jobs, 1, now) == [follow_id]


async def test_a_read_only_store_sees_the_jobs_a_claim_left_in_the_inbox(
    make_jobs: MakeJobs,
) -> None:
    producer = with_item(make_jobs)
    refs = await items(producer, 4)
    assert await claim_ids(producer, 1) == [refs[0].id]
    observer = make_jobs(read_only=True)

    async def seen() -> bool:
        return (await observer.counts())[JobState.QUEUED] == 3

    # No claim takes the rest: the producer moves them in itself (`MOVE_AFTER_SECS`).
    await wait_until(seen, timeout=5, what="the read-only store to see the 3 jobs left")


async def test_an_append_returns_its_job_when_the_mark_cannot_be_read_after_it(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The append stored the job: what its producer reads after it (the mark, for its own
    # deferred move) must not turn that into an error the caller would retry on.
    jobs = with_item(make_jobs)  # no move timer set yet: this append sets it

    def unreadable(self: inbox.Inbox, conn: sqlite3.Connection) -> tuple[int, int | None]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(inbox.Inbox, "progress", unreadable)
    ref = await jobs.enqueue("item", {"n": 1})
    monkeypatch.undo()
    found = (await jobs.get_job(ref.id)).job
    assert found is not None and found.state is JobState.QUEUED
    assert await jobs.count_jobs() == 1


@pytest.mark.usefixtures("unmoved")
async def test_a_queue_limit_and_a_pause_hold_for_jobs_from_the_inbox(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(start_engine=False)
    jobs.command(item)
    await jobs.set_queue("mail", concurrency=1)
    await jobs.set_queue("held", paused=True)
    mail = [await jobs.enqueue("item", {"n": n}, queue="mail") for n in range(3)]
    held = await jobs.enqueue("item", {"n": 3}, queue="held")
    now = jobs.clock.now_ms()
    claimed = await jobs.store.claim(owner="e", commands=["item"], named=False, limit=10, now=now)
    assert [j.id for j in claimed] == [mail[0].id]
    found = await jobs.get_job(held.id)
    assert found.job is not None and found.job.state is JobState.QUEUED


async def test_an_inbox_made_by_schema_10_gets_the_routed_columns(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    await (await producer(make_jobs)).close()
    path = os.path.join(store_dir, inbox.INBOX_FILE)
    with sqlite3.connect(path) as conn:  # the file as schema 10 made it, a job not moved
        conn.execute(f"DROP INDEX {inbox.ROUTED_INDEX_NAME}")
        for name, _ in inbox.ROUTE_COLUMNS:
            conn.execute(f"ALTER TABLE inbox DROP COLUMN {name}")
        conn.execute(
            "INSERT INTO inbox (id, command, request_type, request_body, run_after,"
            " created_date, retry_limit, timeout_secs) VALUES (500, 'item', 'dict',"
            " '{\"n\": 1}', 0, 0, 0, 60.0)"
        )
    conn.close()
    second = make_jobs(start_engine=False)
    second.command(item)
    old = (await second.get_job(500)).job
    assert old is not None and (old.queue, old.priority, old.state) == (
        "default",
        0,
        JobState.QUEUED,
    )
    ref = await second.enqueue("item", {"n": 2}, queue="mail")
    found = (await second.get_job(ref.id)).job
    assert found is not None and found.queue == "mail"
    with sqlite3.connect(path) as conn:
        names = [row[1] for row in conn.execute("PRAGMA table_info(inbox)")]
        indexes = [row[1] for row in conn.execute("PRAGMA index_list(inbox)")]
    conn.close()
    assert set(names) >= {name for name, _ in inbox.ROUTE_COLUMNS}
    assert inbox.ROUTED_INDEX_NAME in indexes


async def test_inbox_jobs_of_other_commands_are_moved_queued_not_started(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(start_engine=False)
    jobs.command(item)
    jobs.command(name="other")(item)
    mine, theirs = await jobs.enqueue("item", {"n": 0}), await jobs.enqueue("other", {"n": 1})
    now = jobs.clock.now_ms()
    claimed = await jobs.store.claim(owner="e", commands=["item"], named=False, limit=5, now=now)
    assert [j.id for j in claimed] == [mine.id]
    assert (await jobs.get_job(theirs.id)).job.state is JobState.QUEUED  # type: ignore[union-attr]


async def test_a_paused_default_queue_starts_nothing_from_the_inbox(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(start_engine=False)
    jobs.command(item)
    await jobs.set_queue("default", paused=True)
    ref = await jobs.enqueue("item", {"n": 0})
    now = jobs.clock.now_ms()
    claimed = await jobs.store.claim(owner="e", commands=["item"], named=False, limit=5, now=now)
    assert claimed == []
    assert (await jobs.get_job(ref.id)).job.state is JobState.QUEUED  # type: ignore[union-attr]


async def test_moved_rows_leave_the_inbox_once_the_move_is_synced(
    make_jobs: MakeJobs, store_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox, "TRIM_EVERY", 5)
    synced: list[str] = []
    sync = inbox.sync_wal
    monkeypatch.setattr(inbox, "sync_wal", lambda path: synced.append(path) or sync(path))
    jobs = make_jobs(start_engine=False)
    jobs.command(item)
    for n in range(8):
        await jobs.enqueue("item", {"n": n})
    assert inbox_rows(store_dir) == 8
    assert await jobs.count_jobs() == 8  # the read moves all 8: past TRIM_EVERY, trimmed
    assert inbox_rows(store_dir) == 1  # the last row stays: the next append numbers past it
    assert synced == [os.path.join(store_dir, "jobs.db")]


CHILD = """
import asyncio, sys
from jobs_core import BackgroundJobs

async def main():
    jobs = BackgroundJobs(sys.argv[1])
    @jobs.command
    async def item(req: dict) -> None: ...
    refs = [await jobs.enqueue("item", {"n": n}) for n in range(int(sys.argv[2]))]
    await jobs.get_job(refs[0].id)  # a read: every job moved into jobs.db
    print("moved", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_a_producer_killed_after_its_move_leaves_every_job_once(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    os.makedirs(store_dir, exist_ok=True)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, store_dir, "12"], cwd=ROOT, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "moved"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    assert inbox_rows(store_dir) == 12  # moved, not trimmed: it died first
    assert len(live_ids(store_dir)) == 12
    jobs = make_jobs(start_engine=False)
    assert await jobs.count_jobs() == 12  # the mark: nothing moved again
    await jobs.close()
    # `jobs.db` put back as it was before the move (a copy restored): the mark goes back
    # too, and rows the store already has, live or archived, are not moved twice.
    with sqlite3.connect(os.path.join(store_dir, "jobs.db")) as conn:
        conn.execute("UPDATE inbox_mark SET seq = 0")
    conn.close()
    again = make_jobs(start_engine=False)
    assert await again.count_jobs() == 12
    assert live_ids(store_dir) == list(range(1, 13))


async def test_a_corrupt_inbox_is_named_in_a_clear_error(store_dir: str) -> None:
    first = BackgroundJobs(store_dir, settings=FAST)
    await first.enqueue_many([])  # creates the store
    await first.close()
    with open(os.path.join(store_dir, inbox.INBOX_FILE), "wb") as f:
        f.write(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"jobs\.inbox is corrupt or not an SQLite database"):
        SqliteStore(store_dir)


async def test_an_inbox_made_again_has_all_its_jobs_moved(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    # Its rows number from 1 again, under the mark the old file left in `jobs.db`: the mark
    # is the old file's (its epoch), so the new file's rows all move.
    first = make_jobs(start_engine=False)
    first.command(item)
    for n in range(5):
        await first.enqueue("item", {"n": n})
    assert await first.count_jobs() == 5
    await first.close()
    for suffix in ("", "-wal", "-shm"):
        path = os.path.join(store_dir, inbox.INBOX_FILE + suffix)
        if os.path.exists(path):
            os.remove(path)
    second = make_jobs(start_engine=False)
    second.command(item)
    ref = await second.enqueue("item", {"n": 5})
    assert inbox_rows(store_dir) == 1
    assert (await second.get_job(ref.id)).job is not None
    assert await second.count_jobs() == 6


async def test_an_append_waits_for_the_inbox_lock_without_blocking_the_loop(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    jobs = await producer(make_jobs)  # the inbox made, the ids reserved
    with locked(store_dir, inbox.INBOX_FILE) as holder:  # another producer appending
        ref = await waits_for_the_lock(holder, jobs.enqueue("item", {"n": 1}))
    assert (await jobs.get_job(ref.id)).job is not None


@pytest.mark.parametrize("durability", [Durability.NORMAL, Durability.FULL])
async def test_the_inbox_commits_at_the_stores_durability(
    store_dir: str, durability: Durability
) -> None:
    store = SqliteStore(store_dir, replace(FAST, durability=durability))
    try:
        assert store._inbox is not None
        level = store._inbox.writer.execute("PRAGMA synchronous").fetchone()[0]
        assert level == {Durability.NORMAL: 1, Durability.FULL: 2}[durability]
    finally:
        await store.close()


async def test_an_inbox_held_past_the_busy_timeout_is_named_in_the_error(
    make_jobs: MakeJobs, store_dir: str
) -> None:
    jobs = make_jobs(start_engine=False, settings=replace(FAST, busy_timeout_secs=0.2))
    jobs.command(item)
    first = await jobs.enqueue("item", {"n": 0})
    with (
        locked(store_dir, inbox.INBOX_FILE),
        pytest.raises(StoreBusyError, match=r"jobs\.inbox stayed locked"),
    ):
        await jobs.enqueue("item", {"n": 1})
    # The failed job's id was given back, or lost as a gap if the producer's own move gave
    # its block back while it waited (it does, 50 ms after the first append): never reused.
    later = await jobs.enqueue("item", {"n": 2})
    assert later.id > first.id
    assert await jobs.count_jobs() == 2
    assert (await jobs.get_job(later.id)).job is not None
