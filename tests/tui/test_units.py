"""Pure parts of the admin app: formatting, keyset windows, keyed-table ordering, themes."""

from __future__ import annotations

import pytest

from jobs_core import BackgroundJobs, Job, JobState, Page, ThroughputBucket, mask_reply_to
from jobs_tui.formatting import duration, progress_bar, relative, size
from jobs_tui.paging import append_page, merge_first_page
from jobs_tui.themes import other_theme
from jobs_tui.widgets.dashboard_panes import throughput_series
from jobs_tui.widgets.detail_panes import job_fields
from jobs_tui.widgets.keyed_table import keeps_order


def jobs(*ids: int) -> list[Job]:
    return [Job(id=i, command="c", state=JobState.COMPLETED) for i in ids]


def ids(items: list[Job]) -> list[int]:
    return [job.id for job in items]


@pytest.mark.parametrize(
    ("ms", "text"),
    [(None, ""), (850, "850ms"), (12_000, "12s"), (185_000, "3m05s"), (7_800_000, "2h10m")],
)
def test_duration_is_compact(ms: int | None, text: str) -> None:
    assert duration(ms) == text


def test_relative_says_ago_or_in() -> None:
    assert relative(1_000, 61_000) == "1m00s ago"
    assert relative(61_000, 1_000) == "in 1m00s"
    assert relative(None, 0) == ""


def test_progress_bar_and_size() -> None:
    assert progress_bar(0.5, width=4) == "██░░  50%"
    assert progress_bar(None) == ""
    assert size(69_632) == "68.0 KiB"


async def test_detail_shows_reply_to_as_the_api_returns_it_masked(admin: BackgroundJobs) -> None:
    @admin.command
    async def import_csv(req: dict[str, str]) -> None:
        return None

    queued = await admin.enqueue(
        "import_csv", {"file": "x.csv"}, reply_to="https://example.com/hook?token=s3cret"
    )
    fields = dict(job_fields(await admin.get_job(queued.id)))
    assert "s3cret" not in fields["reply to"]
    assert fields["reply to"] == mask_reply_to("https://example.com/hook?token=s3cret")


def test_merge_first_page_keeps_loaded_rows_beyond_the_cursor_newest_first() -> None:
    shown = jobs(10, 9, 8, 7, 6)
    page = Page(items=jobs(12, 10, 9), next_cursor=9)  # 11 was requeued, 12 is new
    assert ids(merge_first_page(shown, page, newest_first=True)) == [12, 10, 9, 8, 7, 6]


def test_merge_first_page_oldest_first_and_complete_page() -> None:
    shown = jobs(1, 2, 3, 4)
    assert ids(
        merge_first_page(shown, Page(items=jobs(2, 3), next_cursor=3), newest_first=False)
    ) == [2, 3, 4]
    assert ids(
        merge_first_page(shown, Page(items=jobs(5), next_cursor=None), newest_first=False)
    ) == [5]


def test_append_page_skips_rows_already_shown() -> None:
    assert ids(append_page(jobs(5, 4), Page(items=jobs(4, 3), next_cursor=None))) == [5, 4, 3]


@pytest.mark.parametrize(
    ("current", "wanted", "expected"),
    [
        (["1", "2", "3"], ["1", "3", "4"], True),
        (["1", "2"], ["0", "1", "2"], False),
        ([], ["1"], True),
        (["1", "2"], ["2", "1"], False),
    ],
)
def test_keeps_order_detects_in_place_updates(
    current: list[str], wanted: list[str], expected: bool
) -> None:
    assert keeps_order(current, wanted) is expected


def test_throughput_series_fills_missing_minutes_with_zeros() -> None:
    now = 10 * 60_000 + 5_000
    buckets = [ThroughputBucket(minute_start=9 * 60_000, completed=2, failed=1)]
    assert throughput_series(buckets, now, 3) == [0.0, 3.0, 0.0]


def test_theme_toggle_alternates() -> None:
    assert other_theme("jobs-dark") == "jobs-light"
    assert other_theme("jobs-light") == "jobs-dark"
