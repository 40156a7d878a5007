"""The schema's `cap_logs` (PL/pgSQL) keeps exactly what `log_cap.cap_logs` keeps."""

from __future__ import annotations

import random

import asyncpg

from jobs_core.log_cap import cap_logs, marker
from jobs_core.store.postgres import PostgresStore
from tests.core.test_log_cap import CASES
from tests.pg_server import PgServer


def generated(count: int) -> list[tuple[str, int]]:
    """Logs of random lines (some non-ASCII, some without a final newline, some already
    capped once) with caps from tiny to roomy."""
    rng = random.Random(9)
    cases: list[tuple[str, int]] = []
    for _ in range(count):
        lines = [
            "".join(rng.choice("ab é€\t") for _ in range(rng.randint(0, 30)))
            for _ in range(rng.randint(1, 30))
        ]
        text = "\n".join(lines) + ("\n" if rng.random() < 0.8 else "")
        if rng.random() < 0.3:
            text = marker(rng.randint(1, 10**6)) + text
        cases.append((text, rng.randint(1, 400)))
    return cases


async def test_sql_cap_logs_matches_the_python_rule(pg_server: PgServer, store_url: str) -> None:
    store = PostgresStore(store_url)
    await store.open()
    await store.close()
    cases = [(text, cap) for text, cap, _ in CASES.values()] + generated(500)
    cases.append((marker(10**30) + "x\n" * 50, 60))  # a count no integer type holds
    conn = await asyncpg.connect(pg_server.url())
    try:
        rows = await conn.fetch(
            f"SELECT {store.schema}.cap_logs(t, c) FROM unnest($1::text[], $2::int[]) "
            "WITH ORDINALITY AS u(t, c, n) ORDER BY n",
            [t for t, _ in cases], [c for _, c in cases],
        )  # fmt: skip
    finally:
        await conn.close()
    for (text, cap), row in zip(cases, rows, strict=True):
        assert row[0] == cap_logs(text, cap), (text, cap)
