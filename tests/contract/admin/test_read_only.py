"""A store opened read-only, on both backends: every lookup works, every change is refused
(the admin app's `--read-only` and `jobs web`'s default). On PostgreSQL the server refuses
the changes (`default_transaction_read_only`); opens of a URL used to be refused outright."""

from __future__ import annotations

import pytest

from jobs_core import BackgroundJobs, EnqueueRequest, ReadOnlyStoreError
from jobs_tui import JobsApp
from jobs_tui.screens.detail import JobDetailScreen
from jobs_tui.widgets.keyed_table import KeyedTable
from tests.conftest import MakeJobs
from tests.tui.conftest import pause_until, screen_text, until_loaded


async def noop(req: int) -> None:
    return None


async def test_read_only_reads_everything_and_changes_nothing(
    history: BackgroundJobs, make_jobs: MakeJobs, store_dir: str
) -> None:
    await history.stop()
    jobs = make_jobs(create=False, start_engine=False, read_only=True)
    assert jobs.read_only
    assert (await jobs.get_job(1)).job is not None
    assert len((await jobs.find_jobs("", limit=100)).items) == 15
    assert await jobs.count_jobs("state:failed") == 3
    assert await jobs.counts()
    await refuses_every_change(jobs)
    writer = make_jobs(create=False, start_engine=False)
    assert await writer.count_jobs("") == 15
    assert not any(q.paused for q in await writer.queues())
    assert (await writer.get_job(14)).state == (await jobs.get_job(14)).state


async def refuses_every_change(jobs: BackgroundJobs) -> None:
    """Each kind of change, on the store's `history` (`build_history`), is refused."""
    with pytest.raises(ReadOnlyStoreError, match="is open read-only: nothing can be changed"):
        await jobs.cancel(14)
    with pytest.raises(ReadOnlyStoreError):
        await jobs.bulk_requeue("state:failed")
    with pytest.raises(ReadOnlyStoreError):
        await jobs.delete(3)
    with pytest.raises(ReadOnlyStoreError):
        await jobs.pause_queue("email")
    with pytest.raises(ReadOnlyStoreError):
        await jobs.pause_task("none")
    jobs.command("noop")(noop)
    with pytest.raises(ReadOnlyStoreError):
        await jobs.enqueue("noop", 1)
    with pytest.raises(ReadOnlyStoreError):  # the columnar path
        await jobs.enqueue_each("noop", [1, 2])
    with pytest.raises(ReadOnlyStoreError):  # one command, no option: columns too
        await jobs.enqueue_many([EnqueueRequest(command="noop", request=i) for i in (1, 2)])


async def test_read_only_runs_no_engine(history: BackgroundJobs, make_jobs: MakeJobs) -> None:
    await history.stop()
    jobs = make_jobs(create=False, read_only=True)
    with pytest.raises(ReadOnlyStoreError, match="no engine can run"):
        await jobs.start()


async def test_the_admin_app_opens_a_store_read_only(
    history: BackgroundJobs, make_jobs: MakeJobs
) -> None:
    # What `jobs tui --read-only` and `jobs web` (read-only by default) run, on either store.
    await history.stop()
    viewer = make_jobs(create=False, start_engine=False, read_only=True)
    app = JobsApp(viewer, poll_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await until_loaded(pilot)
        await pause_until(pilot, lambda: row_ids(app) == ["14", "15"], "the queued jobs")
        text = screen_text(app)
        assert "read-only" in text.splitlines()[0]
        assert "Cancel" not in text.splitlines()[-1]
        await pilot.press("enter")
        await pause_until(pilot, lambda: isinstance(app.screen, JobDetailScreen), "the detail")
        await until_loaded(pilot)
        await pause_until(pilot, lambda: "user0" in screen_text(app), "job 14's user")


def row_ids(app: JobsApp) -> list[str]:
    table = app.screen.query_one(KeyedTable)
    return [row.key.value or "" for row in table.ordered_rows]
