"""Bad locations and a failing server: typed errors for the API, one line for the CLI,
engines that reconnect and lose nothing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from jobs_core import (
    BackgroundJobs,
    EnqueueRequest,
    JobContext,
    JobState,
    SchemaTooNewError,
    StoreAuthenticationError,
    StoreNotFoundError,
    StoreUnavailableError,
)
from tests.cli.conftest import run_cli
from tests.conftest import FAST, create_store, pg_url, wait_until
from tests.pg_server import PASSWORD, PgServer, start_server


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def one_line_error(*args: str) -> str:
    result = run_cli(*args)
    assert (result.returncode, result.stdout) == (1, ""), result.stderr
    assert result.stderr.startswith("jobs: error: ") and result.stderr.count("\n") == 1
    assert PASSWORD not in result.stderr and "Traceback" not in result.stderr
    return result.stderr


async def open_fails(url: str, error: type[Exception], match: str) -> None:
    jobs = BackgroundJobs(url, create=False, start_engine=False)
    try:
        with pytest.raises(error, match=match) as raised:
            await jobs.open()
        assert PASSWORD not in str(raised.value)
    finally:
        await jobs.close()


async def test_unreachable_server_is_a_clear_error(pg_server: PgServer) -> None:
    url = pg_server.url().replace(f":{pg_server.port}/", f":{closed_port()}/")
    await open_fails(url, StoreUnavailableError, r"cannot reach postgresql://postgres:\*\*\*@")
    assert "cannot reach postgresql://postgres:***@127.0.0.1" in one_line_error("status", url)


async def test_wrong_password_is_a_clear_error(pg_server: PgServer) -> None:
    url = pg_server.url().replace(PASSWORD, "not-the-password")
    await open_fails(url, StoreAuthenticationError, "the server refused the login")
    assert "refused the login" in one_line_error("cancel", url, "1")
    assert "not-the-password" not in one_line_error("tui", url)


async def test_missing_database_is_a_clear_error(pg_server: PgServer) -> None:
    url = pg_server.url("no_such_db")
    await open_fails(url, StoreNotFoundError, 'database "no_such_db" does not exist')
    assert 'database "no_such_db" does not exist' in one_line_error("requeue", url, "3")


async def test_missing_schema_is_refused_by_admin_commands(store_url: str) -> None:
    await open_fails(store_url, StoreNotFoundError, "is not a jobs store .it has no schema 't_")
    assert "is not a jobs store" in one_line_error("status", store_url)
    # `jobs web` checks the store before it serves (a facade alone never reaches the server).
    assert "is not a jobs store" in one_line_error("web", store_url, "--allow-actions")


async def test_newer_schema_is_refused(pg_server: PgServer, store_url: str) -> None:
    create_store(store_url)
    schema = store_url.rsplit("schema=", 1)[1]
    pg_server.psql(f"UPDATE {schema}.schema_version SET version = 99")
    await open_fails(store_url, SchemaTooNewError, "schema version 99, newer than")
    assert "upgrade jobs to open it" in one_line_error("status", store_url)


async def test_jobs_store_environment_variable_is_the_default(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_store(store_url)
    monkeypatch.setenv("JOBS_STORE", store_url)
    report = run_cli("status")
    assert report.returncode == 0, report.stderr
    assert report.stdout.startswith("# JOBS STATUS: postgresql://postgres:***@127.0.0.1:")
    assert PASSWORD not in report.stdout


# -- a server that goes away under a running engine ------------------------------------------


@pytest.fixture
def own_server() -> Iterator[PgServer]:
    """A server of this test alone: restarting it or cutting its connections is harmless."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


def cut_connections(server: PgServer) -> int:
    """Terminate every jobs connection (as a failover or an operator would); how many."""
    out = server.psql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = 'jobs' AND pid <> pg_backend_pid()"
    )
    return int(out.strip())


def counting_app(url: str, ran: list[int]) -> BackgroundJobs:
    jobs = BackgroundJobs(url, settings=FAST)

    @jobs.command
    async def work(ctx: JobContext) -> None:
        ran.append(ctx.job.id)
        await asyncio.sleep(0.001)

    return jobs


async def test_cut_connection_is_a_typed_error_and_the_next_call_reconnects(
    own_server: PgServer,
) -> None:
    jobs = BackgroundJobs(pg_url(own_server), settings=FAST, start_engine=False)
    jobs.command("work")(lambda: None)
    try:
        await jobs.enqueue("work")
        assert cut_connections(own_server) >= 1
        with pytest.raises(StoreUnavailableError, match="cannot reach postgresql://postgres:"):
            await jobs.enqueue("work")
        await jobs.enqueue("work")  # the pool replaced the dead connection
        assert (await jobs.counts())[JobState.QUEUED] == 2  # the failed enqueue stored nothing
    finally:
        await jobs.close()


async def enqueue_retrying(jobs: BackgroundJobs, n: int) -> list[int]:
    """Enqueue as an app would across a failover: again after a refused attempt (it stored
    nothing: the connection died before the statement was sent)."""
    for _ in range(50):
        try:
            refs = await jobs.enqueue_many([EnqueueRequest(command="work") for _ in range(n)])
            return [r.id for r in refs]
        except StoreUnavailableError:
            await asyncio.sleep(0.1)
    raise AssertionError("the server did not come back")


@pytest.mark.parametrize("failure", ["terminate", "restart"])
async def test_engine_survives_cut_connections_and_restarts_and_loses_nothing(
    own_server: PgServer, failure: str
) -> None:
    url = pg_url(own_server)
    ran: list[int] = []
    jobs = counting_app(url, ran)
    async with jobs:
        ids: list[int] = []
        for round_ in range(4):
            ids.extend(await enqueue_retrying(jobs, 250))
            await asyncio.sleep(0.05)
            if failure == "restart":
                await asyncio.to_thread(own_server.restart)
            else:
                await asyncio.to_thread(cut_connections, own_server)
            del round_

        async def all_completed() -> bool:
            try:
                return (await jobs.counts())[JobState.COMPLETED] == len(ids)
            except StoreUnavailableError:
                return False  # still coming back

        await wait_until(all_completed, timeout=60, what="every job completed after the failures")
    assert sorted(set(ran)) == sorted(ids)
