"""`claim_locked` (the default claim under the store's claim lock, used while flow control
is in use) returns each round with RETURN QUERY and reads what the round did from the
setting the round leaves (claim_sql.py). A store of version 5 has the function that looped
over the rows: migration 6 makes it again, and its rounds still fill the batch."""

from __future__ import annotations

import json

from jobs_core.store.postgres import PostgresStore
from jobs_core.store.postgres.schema import LATEST_VERSION
from jobs_core.store.protocol import NewJob, QueueChange
from tests.pg_server import PgServer
from tests.postgres.old_stores import function_mark, make_store_at

NOW = 1_764_000_000_000


def new(i: int, queue: str, priority: int = 0, key: str | None = None) -> NewJob:
    return NewJob(command="c", request_type="dict", request_body=json.dumps({"i": i}),
                  worker="", run_after=NOW, retry_limit=0, timeout_secs=60.0, queue=queue,
                  priority=priority, concurrency_key=key)  # fmt: skip


async def test_a_version_5_store_gets_claim_locked_again_and_its_rounds_fill_the_batch(
    pg_server: PgServer, store_url: str
) -> None:
    """Three jobs of one key first (limit 1) and ten without: the first round takes the key's
    first job and parks the other two, the next round takes two more jobs without a key."""
    schema = store_url.rsplit("schema=", 1)[1]
    await make_store_at(pg_server, schema, 5)
    pg_server.psql(f"COMMENT ON FUNCTION {schema}.claim_locked IS 'made by migration 5'")
    store = PostgresStore(store_url)
    await store.open()
    try:
        await store.set_queue("other", QueueChange(concurrency=3), NOW)  # flow control in use
        keyed = [new(i, "b", priority=5, key="k") for i in range(3)]
        await store.enqueue(keyed + [new(10 + i, "b") for i in range(10)], NOW)
        jobs = await store.claim(owner="o", commands=["c"], named=False, limit=10, now=NOW)
        again = await store.claim(owner="o", commands=["c"], named=False, limit=10, now=NOW)
    finally:
        await store.close()
    assert len(jobs) == 10
    assert [j.concurrency_key for j in jobs].count("k") == 1
    assert [json.loads(j.request_body)["i"] for j in jobs][:2] == [0, 10]
    assert len(again) == 1  # the rest of the jobs without a key; the key's two wait
    assert int(pg_server.psql(f"SELECT version FROM {schema}.schema_version")) == LATEST_VERSION
    source = function_mark(pg_server, schema, "claim_locked", body=True)
    assert source.startswith("none ")  # made again by migration 6
    assert "RETURN QUERY" in source and "RETURN NEXT" not in source
