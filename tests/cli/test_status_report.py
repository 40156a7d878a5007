"""The status report's text and JSON, from fixed figures (no store, no clock)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from jobs_cli.status_report import (
    StatusData,
    format_age,
    format_report,
    format_size,
    status_line,
    to_json,
)
from jobs_core import (
    EngineInfo,
    EngineState,
    ExposedFile,
    JobState,
    MonthDatabase,
    QueueInfo,
    RateLimit,
    RunningJob,
    ScheduledTaskInfo,
    ThroughputBucket,
    to_ms,
)

NOW = to_ms(datetime(2026, 11, 2, 9, 30, 15, tzinfo=UTC))
MINUTE = 60_000


def engine(**changes: object) -> EngineInfo:
    fields: dict[str, object] = dict(
        id="host-a:101:abcd", host="host-a", pid=101, started_at=NOW - 3_600_000,
        heartbeat_at=NOW - 1_500, lease_expires_at=NOW + 13_500, workers=["smtp"],
        commands=["jobs.reply_to", "send_email", "report"], concurrency=100, running=1,
        processed=42, failed=3, alive=True,
    )  # fmt: skip
    fields.update(changes)
    return EngineInfo(**fields)  # type: ignore[arg-type]


def task() -> ScheduledTaskInfo:
    return ScheduledTaskInfo(
        name="nightly report", schedule="cron 0 2 * * * UTC", description="daily at 02:00 (UTC)",
        command="report", request_body="null", paused=False, missed_policy="run_once",
        next_run_at=NOW + 90_000, last_run_at=NOW - 125_000, last_job_id=7,
        last_job_state=JobState.COMPLETED, run_now_requested=False,
    )  # fmt: skip


def data(scheduled: list[ScheduledTaskInfo] | None = None) -> StatusData:
    minute = NOW // MINUTE * MINUTE
    return StatusData(
        directory="/srv/jobs",
        now_ms=NOW,
        counts={JobState.QUEUED: 4, JobState.STARTED: 1, JobState.COMPLETED: 40,
                JobState.FAILED: 2},
        engines=[engine(), engine(id="host-b:7:ef01", pid=7, alive=False, running=0)],
        running=[RunningJob(id=12, command="report", worker="", owner="host-a:101:abcd",
                            started_date=NOW - 65_000, progress=0.25, status="page 2")],
        months=[MonthDatabase(month="2026-11", path="/srv/jobs/jobs_2026-11.db",
                              size_bytes=107_128)],
        throughput=[ThroughputBucket(minute_start=minute - MINUTE, completed=30, failed=1),
                    ThroughputBucket(minute_start=minute, completed=10, failed=1,
                                     cancelled=4)],
        throughput_minutes=3,
        scheduled=scheduled,
        queues=QUEUES,
    )  # fmt: skip


QUEUES = [
    QueueInfo(
        name="default",
        concurrency=None,
        paused=False,
        rate_limit=None,
        running=1,
        queued=3,
        recent_starts=None,
        finished_15m=38,
        failed_15m=2,
    ),
    QueueInfo(
        name="email",
        concurrency=3,
        paused=False,
        rate_limit=RateLimit(100, per=timedelta(minutes=1)),
        running=0,
        queued=1,
        recent_starts=57,
        finished_15m=2,
        failed_15m=0,
    ),
    QueueInfo(
        name="smtp",
        concurrency=1,
        paused=True,
        rate_limit=None,
        running=0,
        queued=0,
        recent_starts=None,
        finished_15m=0,
        failed_15m=0,
        worker=True,
    ),
]


EXPECTED = """\
# JOBS STATUS: /srv/jobs
AT: 2026-11-02 09:30:15Z
------------------------------
# JOBS BY STATE:

  queued:    4
  started:   1
  executed:  0
  completed: 40
  failed:    2
  cancelled: 0
  total:     47
------------------------------
# QUEUES: 3 (1 paused)

  QUEUE            CONCURRENCY  RUNNING  QUEUED  RATE LIMIT  RATE NOW  DONE 15M FAILED 15M  STATE
  default          -                  1       3  -           -               38          2  active
  email            3                  0       1  100/1m      57/1m            2          0  active
  smtp             1 (worker)         0       0  -           -                0          0  paused
------------------------------
# ENGINES: 1 alive, 0 stale, 0 dead, 1 stopped

ENGINE 1: host-a:101:abcd
  Status:       alive
  Host:         host-a
  Pid:          101
  Started:      2026-11-02 08:30:15Z
  Heartbeat:    1s ago
  Concurrency:  100
  Running:      1
  Processed:    42
  Failed:       3
  Workers:      smtp
  Commands:     send_email, report

ENGINE 2: host-b:7:ef01
  Status:       stopped
  Host:         host-a
  Pid:          7
  Started:      2026-11-02 08:30:15Z
  Heartbeat:    1s ago
  Concurrency:  100
  Running:      0
  Processed:    42
  Failed:       3
  Workers:      smtp
  Commands:     send_email, report

------------------------------
# RUNNING JOBS: 1

  #12     report                   default     25%    1m 05s  on host-a:101:abcd  "page 2"
------------------------------
# MONTHLY DATABASES: 1 (104.6 KiB)

  2026-11  104.6 KiB  /srv/jobs/jobs_2026-11.db
------------------------------
# THROUGHPUT (last 3 minutes, UTC):

  09:28  completed       0  failed       0  cancelled       0
  09:29  completed      30  failed       1  cancelled       0
  09:30  completed      10  failed       1  cancelled       4
  total  completed      40  failed       2  cancelled       4  (0.26 jobs/s)
------------------------------
"""

SCHEDULED = """\
# SCHEDULED TASKS: 1

TASK nightly report
  Schedule:     daily at 02:00 (UTC)
  Command:      report
  Paused:       no
  Next run:     2026-11-02 09:31:45Z (in 1m 30s)
  Last run:     2026-11-02 09:28:10Z (2m 05s ago)
  Last job:     #7 completed

------------------------------
"""


def test_format_report_lays_out_every_section() -> None:
    assert format_report(data()) == EXPECTED


def test_format_report_adds_scheduled_tasks_when_available() -> None:
    assert format_report(data([task()])) == EXPECTED + SCHEDULED


def test_format_report_says_when_sections_are_empty() -> None:
    empty = StatusData(
        directory="/d", now_ms=NOW, counts={}, engines=[], running=[], months=[],
        throughput=[], throughput_minutes=1, scheduled=[],
    )  # fmt: skip
    text = format_report(empty)
    assert "  (no engine has run on this store)\n" in text
    assert "# RUNNING JOBS: 0\n\n  (none)\n" in text
    assert "# SCHEDULED TASKS: 0\n\n  (none)\n" in text
    assert "  total:     0\n" in text


def test_format_report_lists_only_recent_stopped_engines() -> None:
    stopped = [engine(id=f"e{i}", alive=False) for i in range(8)]
    text = format_report(dataclasses.replace(data(), engines=stopped))
    assert text.count("ENGINE ") == 5
    assert "  (3 older dead or stopped engines not shown)\n" in text


@pytest.mark.parametrize(
    ("ms", "text"),
    [(-5, "0s"), (999, "0s"), (4_000, "4s"), (125_000, "2m 05s"), (11_220_000, "3h 07m"),
     (187_200_000, "2d 04h")],
)  # fmt: skip
def test_format_age_uses_two_largest_units(ms: int, text: str) -> None:
    assert format_age(ms) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1023, "1023 B"), (107_128, "104.6 KiB"), (3_355_443, "3.2 MiB"),
     (5 * 1024**3, "5.0 GiB")],
)  # fmt: skip
def test_format_size_uses_binary_units(size: int, text: str) -> None:
    assert format_size(size) == text


def test_to_json_is_plain_and_complete() -> None:
    report = to_json(data([task()]))
    assert json.loads(json.dumps(report)) == report
    assert report["counts"] == {
        "queued": 4, "started": 1, "executed": 0, "completed": 40, "failed": 2, "cancelled": 0,
    }  # fmt: skip
    assert report["scheduled_tasks"][0]["last_job_state"] == "completed"
    assert report["engines"][0]["commands"] == ["jobs.reply_to", "send_email", "report"]
    assert [(b["completed"], b["failed"], b["cancelled"]) for b in report["throughput"]] == [
        (30, 1, 0),
        (10, 1, 4),
    ]
    assert to_json(data())["scheduled_tasks"] is None
    email = report["queues"][1]
    assert (email["name"], email["concurrency"], email["recent_starts"]) == ("email", 3, 57)
    assert email["rate_limit"] == {"limit": 100, "per_ms": 60_000}
    assert report["queues"][2]["worker"] is True and report["queues"][2]["paused"] is True


def test_status_line_counts_states_and_live_engines() -> None:
    line = status_line(NOW, {JobState.COMPLETED: 3}, [engine(), engine(alive=False)])
    assert line == (
        "09:30:15  queued 0  started 0  executed 0  completed 3  failed 0  cancelled 0"
        "  engines alive 1"
    )


def test_format_report_flags_stale_and_dead_engines_and_files_others_can_read() -> None:
    stale = engine(state=EngineState.STALE, reason="no heartbeat for 9.0s")
    dead_now = engine(
        id="host-a:7:b", pid=7, alive=False, state=EngineState.DEAD,
        reason="its process 7 on host-a is gone", heartbeat_at=NOW - 20_000,
    )  # fmt: skip
    dead_long_ago = engine(
        id="host-c:9:c", alive=False, state=EngineState.DEAD,
        reason="its lease lapsed 7200.0s ago", heartbeat_at=NOW - 2 * 3_600_000,
    )  # fmt: skip
    report = dataclasses.replace(
        data(),
        engines=[stale, dead_now, dead_long_ago],
        exposed=[ExposedFile(path="/srv/jobs/jobs.db", mode=0o644, wanted_mode=0o600)],
    )
    text = format_report(report)
    assert (
        "------------------------------\n"
        "# WARNINGS: 3\n\n"
        "  ! engine host-a:101:abcd is stale: no heartbeat for 9.0s\n"
        "  ! engine host-a:7:b is dead: its process 7 on host-a is gone\n"
        "  ! /srv/jobs/jobs.db is open to other users (mode 644); "
        "fix: chmod 600 /srv/jobs/jobs.db\n"
        "------------------------------\n# JOBS BY STATE:"
    ) in text
    assert "# ENGINES: 0 alive, 1 stale, 2 dead, 0 stopped\n" in text
    assert "  Status:       stale (no heartbeat for 9.0s)\n" in text
    assert "  Status:       dead (its process 7 on host-a is gone)\n" in text
    assert to_json(report)["warnings"][2].startswith("/srv/jobs/jobs.db is open to other users")


def test_dead_engine_that_still_owns_running_jobs_is_flagged_whenever_it_died() -> None:
    dead = engine(
        alive=False, state=EngineState.DEAD, reason="its lease lapsed 7200.0s ago",
        heartbeat_at=NOW - 2 * 3_600_000,
    )  # fmt: skip
    text = format_report(dataclasses.replace(data(), engines=[dead]))
    assert (
        "  ! engine host-a:101:abcd is dead: its lease lapsed 7200.0s ago; "
        "it still owns 1 running job(s)\n"
    ) in text


def test_report_of_a_healthy_store_has_no_warnings_section() -> None:
    assert "WARNINGS" not in format_report(data())
    assert to_json(data())["warnings"] == []


def test_month_file_that_cannot_be_read_is_shown_and_warned_about() -> None:
    error = "/srv/jobs/jobs_2026-10.db is corrupt or not an SQLite database: file is not a database"
    bad = MonthDatabase(
        month="2026-10", path="/srv/jobs/jobs_2026-10.db", size_bytes=9, error=error
    )
    text = format_report(dataclasses.replace(data(), months=[*data().months, bad]))
    assert "# WARNINGS: 1\n\n  ! " + error + "\n" in text
    assert "  2026-10  unreadable  /srv/jobs/jobs_2026-10.db\n" in text
