"""Pure parts of the admin app: formatting, keyset windows, keyed-table ordering, themes."""

from __future__ import annotations

import pytest

from jobs_core import (
    BackgroundJobs,
    BatchState,
    BatchStatus,
    Job,
    JobQuery,
    JobState,
    ScheduledTaskInfo,
    TaskState,
    ThroughputBucket,
    mask_reply_to,
)
from jobs_tui.formatting import duration, progress_bar, relative, size
from jobs_tui.marks import Marks
from jobs_tui.query_suggest import suggest
from jobs_tui.screens.batch import record_text
from jobs_tui.screens.tasks import task_row
from jobs_tui.themes import PLAIN, other_theme
from jobs_tui.widgets.chrome import shorten_path
from jobs_tui.widgets.dashboard_panes import throughput_series
from jobs_tui.widgets.detail_panes import job_fields
from jobs_tui.widgets.job_rows import waiting_for
from jobs_tui.widgets.keyed_table import Column, keeps_order, layout


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


def test_throughput_series_fills_missing_minutes_with_zeros_and_keeps_series_apart() -> None:
    now = 10 * 60_000 + 5_000
    buckets = [ThroughputBucket(minute_start=9 * 60_000, completed=2, failed=1, cancelled=4)]
    starts, completed, failed, cancelled = throughput_series(buckets, now, 3)
    assert starts == [8 * 60_000, 9 * 60_000, 10 * 60_000]
    assert (completed, failed, cancelled) == ([0.0, 2.0, 0.0], [0.0, 1.0, 0.0], [0.0, 4.0, 0.0])


def test_theme_toggle_alternates() -> None:
    assert other_theme("jobs-dark") == "jobs-light"
    assert other_theme("jobs-light") == "jobs-dark"


@pytest.mark.parametrize(
    ("width", "shown"),
    [
        (200, ["id", "command", "state", "detail"]),
        (60, ["id", "command", "detail"]),
        (30, ["id", "detail"]),
    ],
)
def test_layout_drops_the_least_kept_columns_first(width: int, shown: list[str]) -> None:
    columns = [
        Column("id", "Id", 6, keep=10),
        Column("command", "Command", 12, grow=1, keep=8),
        Column("state", "State", 30, keep=5),
        Column("detail", "Error", 20, grow=4, keep=9),
    ]
    assert [c.key for c, _ in layout(columns, width)] == shown


def test_layout_gives_spare_width_to_columns_whose_content_needs_it() -> None:
    columns = [
        Column("command", "Command", 10, grow=1, most=40),
        Column("tag", "Tag", 6, grow=1, most=20),
        Column("detail", "Error", 10, grow=1),
    ]
    widths = dict((c.key, w) for c, w in layout(columns, 80, {"command": 12, "tag": 4,
                                                              "detail": 100}))  # fmt: skip
    assert widths == {"command": 12, "tag": 6, "detail": 80 - 3 * 2 - 12 - 6}
    assert sum(widths.values()) + 2 * 3 == 80


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sta", "state:"),
        ("-ta", "-tag:"),
        ("state:fa", "state:failed"),
        ("state:failed,can", "state:failed,cancelled"),
        ("command:imp", "command:import_csv"),
        ("acme since:1", "acme since:15m"),
        ("args.", None),
        ("state:failed", None),
        ("tag:zz", None),
        ("", None),
    ],
)
def test_suggest_completes_keys_and_known_values(value: str, expected: str | None) -> None:
    known = {"command": ["import_csv", "send_email"]}
    assert suggest(value, known) == expected


def test_marks_are_ids_or_a_whole_query() -> None:
    marks = Marks()
    assert not marks and marks.describe() == ""
    marks.toggle(3)
    marks.mark_all([1, 2])
    assert marks.target() == [3, 1, 2] and marks.describe() == "3 marked"
    marks.mark_all([1, 2, 3])  # all already marked: ctrl+a again unmarks them
    assert not marks
    marks.mark_matching(JobQuery.parse("state:failed"), 1204)
    assert 99 in marks and marks.count == 1204
    assert marks.describe() == "all 1,204 matching marked"
    marks.toggle(5)  # marking a row gives up the query
    assert marks.target() == [5]


def test_queue_row_names_a_job_or_a_batch_a_job_waits_for() -> None:
    job = Job(id=9, command="c", state=JobState.QUEUED, run_after=0, created_date=0,
              retry_limit=0, timeout_secs=1, depends_on_batch="nightly")  # fmt: skip
    assert waiting_for(job, 0, 4) == "blocked by #4"
    assert waiting_for(job, 0, -2) == "blocked by batch nightly"  # a batch: minus its number


def test_batch_view_states_the_batch_record() -> None:
    status = BatchStatus(
        batch_id="b", counts={JobState.COMPLETED: 3}, total=3, done=3, failed_ids=[],
        started_at=None, finished_at=None, state=BatchState.FINISHED, name="nightly",
        declared_total=3, on_complete="report", on_success="celebrate", callback_ids=[4, 5],
    )  # fmt: skip
    assert record_text(status) == (
        "finished  ·  'nightly'  ·  3 announced  ·  on complete: report  ·  "
        "on success: celebrate  ·  callbacks #4, #5"
    )


@pytest.mark.parametrize("state", [TaskState.PAUSED, TaskState.ENDED])
def test_a_paused_or_ended_task_shows_so_instead_of_a_next_run(state: TaskState) -> None:
    task = ScheduledTaskInfo(
        name="sync", schedule="every 30s", description="Every 30 seconds", command="sync",
        request_body="null", paused=state is TaskState.PAUSED, missed_policy="run_once",
        next_run_at=None, last_run_at=None, last_job_id=None, last_job_state=None,
        run_now_requested=False, state=state, max_runs=3, run_count=3,
    )  # fmt: skip
    _, cells = task_row(task, 0, PLAIN)
    assert cells["next"] == state.value and str(cells["state"]) == state.value


@pytest.mark.parametrize(
    ("path", "width", "shown"),
    [
        ("./jobs_data", 20, "./jobs_data"),
        ("/srv/app/jobs_data", 14, "…app/jobs_data"),
        ("/srv/app/jobs_data", 10, "…jobs_data"),
        ("./jobs_data", 4, "job…"),  # the left cut gave "…ata"
        ("/srv/app/jobs_data/", 6, "jobs_…"),
        ("./jobs_data", 1, "…"),
        ("./jobs_data", 0, ""),
    ],
)
def test_the_store_label_keeps_the_stores_own_name_readable(
    path: str, width: int, shown: str
) -> None:
    assert shorten_path(path, width) == shown
