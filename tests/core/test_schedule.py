"""Schedules: cron and interval timing, DST, validation messages, missed-run plans, text."""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jobs_core.clock import from_ms, to_ms
from jobs_core.errors import InvalidOptionError, InvalidScheduleError
from jobs_core.schedule import (
    MISSED_COUNT_LIMIT,
    DuePlan,
    MissedRunPolicy,
    Schedule,
    ScheduleKind,
    due_runs,
    next_run_after,
)

NY = "America/New_York"
LONDON = "Europe/London"
SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """Epoch ms of a UTC wall time: utc(2024, 3, 10, 7, 30)."""
    return to_ms(datetime(year, month, day, hour, minute, second, tzinfo=UTC))


def slots(schedule: Schedule, after_ms: int, count: int) -> list[int]:
    found: list[int] = []
    for _ in range(count):
        after_ms = next_run_after(schedule, after_ms)
        found.append(after_ms)
    return found


T0 = utc(2024, 1, 1)


# --- next run ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "tz", "after", "expected"),
    [
        ("* * * * *", "UTC", utc(2024, 1, 1), utc(2024, 1, 1, 0, 1)),
        ("* * * * *", "UTC", utc(2024, 1, 1, 0, 0, 30) + 500, utc(2024, 1, 1, 0, 1)),
        ("0 2 * * *", "UTC", utc(2024, 1, 1, 1, 59, 59) + 999, utc(2024, 1, 1, 2)),
        ("0 2 * * *", "UTC", utc(2024, 1, 1, 2), utc(2024, 1, 2, 2)),
        ("*/15 * * * *", "UTC", utc(2024, 1, 1, 0, 7), utc(2024, 1, 1, 0, 15)),
        ("5/20 * * * *", "UTC", utc(2024, 1, 1, 0, 6), utc(2024, 1, 1, 0, 25)),
        ("0,30 9-10 * * *", "UTC", utc(2024, 1, 1, 9, 45), utc(2024, 1, 1, 10)),
        ("0 9 * * MON-FRI", "UTC", utc(2024, 1, 5, 9), utc(2024, 1, 8, 9)),
        ("0 0 * * 7", "UTC", utc(2024, 1, 1), utc(2024, 1, 7)),
        ("0 0 * * sun", "UTC", utc(2024, 1, 1), utc(2024, 1, 7)),
        ("0 0 1 JAN *", "UTC", utc(2024, 6, 1), utc(2025, 1, 1)),
        ("0 0 ? * 1", "UTC", utc(2024, 1, 1), utc(2024, 1, 8)),
        ("0 0 29 2 *", "UTC", utc(2024, 3, 1), utc(2028, 2, 29)),
        ("0 0 13 * 5", "UTC", utc(2024, 1, 1), utc(2024, 1, 5)),  # Vixie: 13th OR Friday
        ("30 * * * * *", "UTC", utc(2024, 1, 1), utc(2024, 1, 1, 0, 0, 30)),
        ("*/10 * * * * *", "UTC", utc(2024, 1, 1, 0, 0, 5), utc(2024, 1, 1, 0, 0, 10)),
        ("15 0 0 * * *", "UTC", utc(2024, 1, 1), utc(2024, 1, 1, 0, 0, 15)),
        ("0 30 2 * * *", "UTC", utc(2024, 1, 1), utc(2024, 1, 1, 2, 30)),
        ("0 9 * * *", "Europe/Paris", utc(2024, 1, 15), utc(2024, 1, 15, 8)),
        ("0 9 * * *", "Europe/Paris", utc(2024, 7, 15), utc(2024, 7, 15, 7)),
        ("0 * * * *", "Asia/Kolkata", utc(2024, 1, 1), utc(2024, 1, 1, 0, 30)),
    ],
)
def test_schedule_next_run_after_cron(expr: str, tz: str, after: int, expected: int) -> None:
    assert next_run_after(Schedule.cron(expr, tz=tz), after) == expected


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        (Schedule.interval(300), T0, T0 + 5 * MINUTE),
        (Schedule.interval(timedelta(hours=2)), T0 + 17, T0 + 17 + 2 * HOUR),
        (Schedule.interval(1.5), T0, T0 + 1500),
        (Schedule.interval(0.001), T0, T0 + 1),
    ],
)
def test_schedule_next_run_after_interval(schedule: Schedule, after: int, expected: int) -> None:
    assert next_run_after(schedule, after) == expected


@pytest.mark.parametrize(
    ("factory", "expr", "first_after_t0"),
    [
        (Schedule.every_minute, "* * * * *", T0 + MINUTE),
        (Schedule.hourly, "0 * * * *", T0 + HOUR),
        (Schedule.daily, "0 0 * * *", utc(2024, 1, 2)),
        (Schedule.weekly, "0 0 * * 0", utc(2024, 1, 7)),
        (Schedule.monthly, "0 0 1 * *", utc(2024, 2, 1)),
    ],
)
def test_schedule_shortcuts(
    factory: Callable[[], Schedule], expr: str, first_after_t0: int
) -> None:
    schedule = factory()
    assert schedule == Schedule.cron(expr)
    assert next_run_after(schedule, T0) == first_after_t0


def test_schedule_shortcut_takes_time_zone() -> None:
    assert next_run_after(Schedule.daily(tz="Europe/Paris"), T0) == utc(2024, 1, 1, 23)


# --- daylight saving time ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "tz", "after", "expected"),
    [
        # 2024-03-10 New York: 02:00 EST jumps to 03:00 EDT; 02:30 runs once, at the jump.
        (
            "30 2 * * *",
            NY,
            utc(2024, 3, 9),
            [utc(2024, 3, 9, 7, 30), utc(2024, 3, 10, 7), utc(2024, 3, 11, 6, 30)],
        ),
        (
            "0 30 2 * * *",
            NY,
            utc(2024, 3, 9),
            [utc(2024, 3, 9, 7, 30), utc(2024, 3, 10, 7), utc(2024, 3, 11, 6, 30)],
        ),
        # 2024-11-03 New York: 02:00 EDT falls back to 01:00 EST; 02:30 exists once.
        (
            "30 2 * * *",
            NY,
            utc(2024, 11, 2),
            [utc(2024, 11, 2, 6, 30), utc(2024, 11, 3, 7, 30), utc(2024, 11, 4, 7, 30)],
        ),
        # 01:30 happens twice; a fixed-time job runs at the first (EDT) one only.
        (
            "30 1 * * *",
            NY,
            utc(2024, 11, 2),
            [utc(2024, 11, 2, 5, 30), utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)],
        ),
        # Hourly keeps real-time pace: 01:00 EST, 03:00 EDT (the jump), 04:00 EDT.
        (
            "0 * * * *",
            NY,
            utc(2024, 3, 10, 5, 30),
            [utc(2024, 3, 10, 6), utc(2024, 3, 10, 7), utc(2024, 3, 10, 8)],
        ),
        # ... and runs in both passes of the repeated hour: 00:00, 01:00 EDT, 01:00 EST, 02:00 EST.
        (
            "0 * * * *",
            NY,
            utc(2024, 11, 3, 3, 30),
            [utc(2024, 11, 3, 4), utc(2024, 11, 3, 5), utc(2024, 11, 3, 6), utc(2024, 11, 3, 7)],
        ),
        # Every 30 minutes: 01:30 EST, then 02:00 and 02:30 fall in the gap -> one run at 03:00 EDT.
        (
            "*/30 * * * *",
            NY,
            utc(2024, 3, 10, 6, 10),
            [utc(2024, 3, 10, 6, 30), utc(2024, 3, 10, 7), utc(2024, 3, 10, 7, 30)],
        ),
        # 2024-03-31 London: 01:00 GMT jumps to 02:00 BST; 01:30 runs at the jump (01:00 UTC).
        (
            "30 1 * * *",
            LONDON,
            utc(2024, 3, 30),
            [utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1), utc(2024, 4, 1, 0, 30)],
        ),
        # 2024-10-27 London: 01:30 happens in BST then GMT; runs at the BST one.
        (
            "30 1 * * *",
            LONDON,
            utc(2024, 10, 26),
            [utc(2024, 10, 26, 0, 30), utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)],
        ),
        # Starting inside the first pass of the repeated hour, just after a run: no second run.
        ("30 1 * * *", NY, utc(2024, 11, 3, 5, 31), [utc(2024, 11, 4, 6, 30)]),
        # ... but an interval-based expression still fires in the second pass.
        (
            "*/30 1 * * *",
            NY,
            utc(2024, 11, 3, 5, 50),
            [utc(2024, 11, 3, 6), utc(2024, 11, 3, 6, 30), utc(2024, 11, 4, 6)],
        ),
    ],
)
def test_schedule_next_run_after_across_dst(
    expr: str, tz: str, after: int, expected: list[int]
) -> None:
    assert slots(Schedule.cron(expr, tz=tz), after, len(expected)) == expected


@pytest.mark.parametrize("tz", [NY, LONDON, "Australia/Lord_Howe"])
def test_schedule_daily_runs_once_per_local_day_for_a_year(tz: str) -> None:
    zone = ZoneInfo(tz)
    runs = slots(Schedule.cron("30 1 * * *", tz=tz), utc(2023, 12, 31, 12), 366)
    dates = [from_ms(run).astimezone(zone).date() for run in runs]
    assert dates == [dates[0] + timedelta(days=day) for day in range(366)]


@pytest.mark.parametrize(
    ("day", "hours"),
    [((2024, 3, 10), 23), ((2024, 11, 3), 25), ((2024, 6, 1), 24)],
)
def test_schedule_hourly_runs_once_per_real_hour_on_dst_days(
    day: tuple[int, int, int], hours: int
) -> None:
    zone = ZoneInfo(NY)
    start = to_ms(datetime(*day, tzinfo=zone))
    end = to_ms(datetime(*day, tzinfo=zone) + timedelta(days=1))
    runs = slots(Schedule.cron("0 * * * *", tz=NY), start - 1, hours + 1)
    assert runs[-1] == end
    assert [b - a for a, b in itertools.pairwise(runs)] == [HOUR] * hours


# --- validation --------------------------------------------------------------------------

COUNT_HELP = "expected 5 (min hour dom mon dow) or 6 (sec min hour dom mon dow)"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("61 * * * *", "invalid cron '61 * * * *': minute field '61' is out of range 0-59"),
        ("* * *", f"cron '* * *' has 3 fields; {COUNT_HELP}"),
        ("", f"cron '' has 0 fields; {COUNT_HELP}"),
        ("* * * * * * *", f"cron '* * * * * * *' has 7 fields; {COUNT_HELP}"),
        ("60 * * * * *", "second field '60' is out of range 0-59"),
        ("0 24 * * *", "hour field '24' is out of range 0-23"),
        ("0 0 0 * *", "day-of-month field '0' is out of range 1-31"),
        ("0 0 * 13 *", "month field '13' is out of range 1-12"),
        ("0 0 * * 8", "day-of-week field '8' is out of range 0-7"),
        ("x * * * *", "minute field 'x' is not a number"),
        ("0 0 * FOO *", "month field 'FOO' is not a number or month name"),
        ("0 0 * * FUN", "day-of-week field 'FUN' is not a number or day name"),
        ("0 0 L * *", "day-of-month field 'L' is not a number"),
        ("H * * * *", "minute field 'H' is not a number"),
        ("5,61 * * * *", "minute field '5,61': '61' is out of range 0-59"),
        ("1,,2 * * * *", "minute field '1,,2' has an empty list item"),
        ("*/0 * * * *", "minute field '*/0' has step 0, out of range 1-59"),
        ("0 */24 * * *", "hour field '*/24' has step 24, out of range 1-23"),
        ("*/x * * * *", "minute field '*/x' has step 'x', which is not a number"),
        ("30-10 * * * *", "minute field '30-10' is a backwards range; write 30-59,0-10"),
        ("-5 * * * *", "minute field '-5' is missing a range bound"),
        ("5- * * * *", "minute field '5-' is missing a range bound"),
        ("? * * * *", "minute field '?' uses '?', which only the day fields accept"),
        ("0 0 1-40 * *", "day-of-month field '1-40': '40' is out of range 1-31"),
        ("0 0 30 2 *", "day-of-month field '30' never occurs in month field '2'"),
        ("0 0 31 4,6 *", "day-of-month field '31' never occurs in month field '4,6'"),
    ],
)
def test_schedule_cron_rejects_invalid_expression(expr: str, message: str) -> None:
    with pytest.raises(InvalidScheduleError, match=re.escape(message)):
        Schedule.cron(expr)


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "Europe", "../etc/passwd", "utc"])
def test_schedule_cron_rejects_unknown_time_zone(tz: str) -> None:
    with pytest.raises(InvalidScheduleError, match=re.escape(f"unknown time zone '{tz}'")):
        Schedule.cron("0 0 * * *", tz=tz)


@pytest.mark.parametrize(
    "seconds",
    [0, -5, 0.0001, float("nan"), float("inf"), timedelta(0), timedelta(seconds=-1)],
)
def test_schedule_interval_rejects_non_positive(seconds: float | timedelta) -> None:
    with pytest.raises(InvalidScheduleError, match="interval must be positive"):
        Schedule.interval(seconds)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: Schedule(kind=ScheduleKind.INTERVAL, interval_ms=1000, tz="Europe/Paris"),
            "an interval schedule has no cron expression or time zone",
        ),
        (
            lambda: Schedule(kind=ScheduleKind.CRON, expr="* * * * *", interval_ms=1000),
            "cron '* * * * *' cannot also have an interval",
        ),
        (lambda: Schedule(kind="weekly"), "unknown schedule kind 'weekly'"),  # type: ignore[arg-type]
    ],
)
def test_schedule_direct_construction_is_validated(
    make: Callable[[], Schedule], message: str
) -> None:
    with pytest.raises(InvalidScheduleError, match=re.escape(message)):
        make()


# --- missed runs -------------------------------------------------------------------------

HOURLY = Schedule.hourly()
MINUTELY = Schedule.interval(60)
TEN_MINUTES = Schedule.interval(600)
RUN_ONCE, SKIP, CATCH_UP = MissedRunPolicy.RUN_ONCE, MissedRunPolicy.SKIP, MissedRunPolicy.CATCH_UP


def t(hours: int = 0, minutes: int = 0, ms: int = 0) -> int:
    """T0 plus a duration, in epoch ms."""
    return T0 + hours * HOUR + minutes * MINUTE + ms


def m(minutes: int, ms: int = 0) -> int:
    """T0 plus minutes and milliseconds, in epoch ms."""
    return t(0, minutes, ms)


def plan(run: tuple[int, ...], next_run_at: int, missed: int = 0) -> DuePlan:
    return DuePlan(run_slots=run, next_run_at=next_run_at, missed=missed)


def due(schedule: Schedule, next_at: int | None, now: int, policy: MissedRunPolicy) -> DuePlan:
    return due_runs(
        schedule,
        next_run_at_ms=next_at,
        last_run_at_ms=None,
        now_ms=now,
        policy=policy,
        max_catch_up=3,
    )


@pytest.mark.parametrize(
    ("next_at", "now", "policy", "expected"),
    [
        pytest.param(t(1), t(0, 30), RUN_ONCE, plan((), t(1)), id="not-due"),
        pytest.param(t(1), t(1), RUN_ONCE, plan((t(1),), t(2)), id="due-exactly-now"),
        pytest.param(t(1), t(1, 0, 500), RUN_ONCE, plan((t(1),), t(2)), id="on-time"),
        pytest.param(t(1), t(2, 10), RUN_ONCE, plan((t(2),), t(3), 1), id="run-once-1-missed"),
        pytest.param(t(1), t(50, 0, 5), RUN_ONCE, plan((t(50),), t(51), 49), id="run-once-many"),
        pytest.param(t(1), t(1, 0, 30_000), SKIP, plan((t(1),), t(2)), id="skip-on-time"),
        pytest.param(t(1), t(1, 2), SKIP, plan((), t(2), 1), id="skip-late"),
        pytest.param(
            t(1), t(50, 0, 5), SKIP, plan((t(50),), t(51), 49), id="skip-many-last-on-time"
        ),
        pytest.param(t(1), t(50, 30), SKIP, plan((), t(51), 50), id="skip-many-all-late"),
        pytest.param(
            t(1), t(3, 0, 1), CATCH_UP, plan((t(1), t(2), t(3)), t(4)), id="catch-up-within-bound"
        ),
        pytest.param(
            t(1), t(10), CATCH_UP, plan((t(8), t(9), t(10)), t(11), 7), id="catch-up-beyond-bound"
        ),
    ],
)
def test_due_runs_cron(next_at: int, now: int, policy: MissedRunPolicy, expected: DuePlan) -> None:
    assert due(HOURLY, next_at, now, policy) == expected


@pytest.mark.parametrize(
    ("next_at", "now", "policy", "expected"),
    [
        pytest.param(m(10), m(5), RUN_ONCE, plan((), m(10)), id="not-due"),
        pytest.param(m(10), m(10, 300), RUN_ONCE, plan((m(10),), m(20, 300)), id="on-time"),
        pytest.param(
            m(10),
            m(120, 5),
            RUN_ONCE,
            plan((m(120),), m(130, 5), 11),
            id="run-once-late-restarts-from-now",
        ),
        pytest.param(m(10), m(10, 5), SKIP, plan((m(10),), m(20, 5)), id="skip-on-time"),
        pytest.param(m(10), m(12), SKIP, plan((), m(20), 1), id="skip-late-keeps-grid"),
        pytest.param(
            m(10), m(30), CATCH_UP, plan((m(10), m(20), m(30)), m(40)), id="catch-up-within-bound"
        ),
        pytest.param(
            m(10),
            m(60, 7),
            CATCH_UP,
            plan((m(40), m(50), m(60)), m(70, 7), 3),
            id="catch-up-beyond-bound",
        ),
    ],
)
def test_due_runs_interval(
    next_at: int, now: int, policy: MissedRunPolicy, expected: DuePlan
) -> None:
    assert due(TEN_MINUTES, next_at, now, policy) == expected


@pytest.mark.parametrize("policy", list(MissedRunPolicy))
@pytest.mark.parametrize(
    ("schedule", "last_at", "now", "expected"),
    [
        pytest.param(HOURLY, None, m(10), plan((), m(60)), id="cron-waits-for-next-slot"),
        pytest.param(HOURLY, None, m(0), plan((), m(60)), id="cron-registered-on-a-slot"),
        pytest.param(HOURLY, m(-5), m(0, 10_000), plan((m(0),), m(60)), id="cron-after-last-run"),
        pytest.param(MINUTELY, None, m(0), plan((m(0),), m(1)), id="interval-runs-now"),
        pytest.param(MINUTELY, m(0), m(0, 30_000), plan((), m(1)), id="interval-after-last-run"),
    ],
)
def test_due_runs_new_task(
    schedule: Schedule,
    last_at: int | None,
    now: int,
    expected: DuePlan,
    policy: MissedRunPolicy,
) -> None:
    got = due_runs(schedule, next_run_at_ms=None, last_run_at_ms=last_at, now_ms=now, policy=policy)
    assert got == expected


def test_due_runs_defaults_to_run_once_and_catch_up_bound_of_100() -> None:
    once = due_runs(MINUTELY, next_run_at_ms=t(0, 1), last_run_at_ms=None, now_ms=t(0, 500))
    assert once.run_slots == (t(0, 500),)
    caught_up = due_runs(
        MINUTELY, next_run_at_ms=t(0, 1), last_run_at_ms=None, now_ms=t(0, 500), policy=CATCH_UP
    )
    assert caught_up.run_slots == tuple(t(0, k) for k in range(401, 501))
    assert caught_up.missed == 400


def test_due_runs_catch_up_counts_each_real_hour_across_fall_back() -> None:
    hourly_ny = Schedule.hourly(tz=NY)
    got = due_runs(
        hourly_ny,
        next_run_at_ms=utc(2024, 11, 3, 4),
        last_run_at_ms=None,
        now_ms=utc(2024, 11, 3, 8),
        policy=CATCH_UP,
    )
    assert got == plan(tuple(utc(2024, 11, 3, h) for h in range(4, 9)), utc(2024, 11, 3, 9))


def test_due_runs_long_outage_of_a_per_second_cron_stays_bounded() -> None:
    every_second = Schedule.cron("* * * * * *")
    now = T0 + 24 * HOUR + 250
    got = due_runs(
        every_second,
        next_run_at_ms=T0,
        last_run_at_ms=None,
        now_ms=now,
        policy=CATCH_UP,
        max_catch_up=3,
    )
    assert got.run_slots == (now - 2250, now - 1250, now - 250)
    assert got.next_run_at == now + 750
    assert got.missed >= MISSED_COUNT_LIMIT


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_catch_up": 0}, "max_catch_up must be at least 1, got 0"),
        ({"grace_ms": -1}, "grace_ms must not be negative, got -1"),
    ],
)
def test_due_runs_rejects_bad_options(options: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidOptionError, match=re.escape(message)):
        due_runs(HOURLY, next_run_at_ms=T0, last_run_at_ms=None, now_ms=T0, **options)  # type: ignore[arg-type]


# --- words and text ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        (Schedule.every_minute(), "Every minute"),
        (Schedule.hourly(), "Every hour"),
        (Schedule.daily(), "At 00:00"),
        (Schedule.weekly(), "At 00:00, only on Sunday"),
        (Schedule.monthly(), "At 00:00, on day 1 of the month"),
        (Schedule.cron("0 2 * * *", tz="Europe/Paris"), "At 02:00 (Europe/Paris)"),
        (Schedule.cron("*/5 * * * *"), "Every 5 minutes"),
        (Schedule.cron("*/30 * * * * *"), "Every 30 seconds"),
        (Schedule.cron("* * * * * *"), "Every second"),
        (Schedule.cron("0,30 * * * *"), "At 0 and 30 minutes past the hour"),
        (Schedule.cron("15 */2 * * *"), "At 15 minutes past the hour, every 2 hours"),
        (Schedule.cron("30 0 9 * * MON"), "At 09:00:30, only on Monday"),
        (Schedule.cron("0 0 9 ? * MON"), "At 09:00, only on Monday"),  # seconds first, `?`
        (Schedule.cron("0 0 25 12 *"), "At 00:00, on day 25 of the month, only in December"),
        (Schedule.cron("0 9 * * 1-5"), "At 09:00, Monday through Friday"),
        (Schedule.cron("0 9 * * 1-5", tz=NY), "At 09:00, Monday through Friday (America/New_York)"),
        (Schedule.cron("0 0 1 * 7"), "At 00:00, on day 1 of the month, or on Sunday"),  # Vixie OR
        (Schedule.interval(1), "Every second"),
        (Schedule.interval(30), "Every 30 seconds"),
        (Schedule.interval(1.5), "Every 1.5 seconds"),
        (Schedule.interval(90), "Every 90 seconds"),
        (Schedule.interval(60), "Every minute"),
        (Schedule.interval(300), "Every 5 minutes"),
        (Schedule.interval(7200), "Every 2 hours"),
        (Schedule.interval(86400), "Every day"),
    ],
)
def test_schedule_describe(schedule: Schedule, words: str) -> None:
    assert schedule.describe() == words


@pytest.mark.parametrize(
    ("schedule", "text"),
    [
        (Schedule.cron("0 2 * * *", tz="Europe/Paris"), "cron:0 2 * * *@Europe/Paris"),
        (Schedule.daily(), "cron:0 0 * * *@UTC"),
        (Schedule.cron("  0   0 * *\t*"), "cron:0 0 * * *@UTC"),
        (
            Schedule.cron("*/10 0 9 * * MON-FRI", tz=NY),
            "cron:*/10 0 9 * * MON-FRI@America/New_York",
        ),
        (Schedule.interval(300), "interval:300"),
        (Schedule.interval(1.5), "interval:1.5"),
        (Schedule.interval(0.001), "interval:0.001"),
        (Schedule.interval(timedelta(days=1, milliseconds=20)), "interval:86400.02"),
    ],
)
def test_schedule_text_round_trip(schedule: Schedule, text: str) -> None:
    assert schedule.to_text() == text
    assert str(schedule) == text
    assert Schedule.from_text(text) == schedule
    assert hash(Schedule.from_text(text)) == hash(schedule)
    assert Schedule.parse(text) == schedule


def test_schedule_from_text_without_zone_is_utc() -> None:
    assert Schedule.from_text("cron:0 0 * * *") == Schedule.daily()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("daily", "stored schedule 'daily' is neither"),
        ("interval:abc", "invalid interval 'interval:abc'"),
        ("interval:0", "invalid interval 'interval:0'"),
        ("interval:0.0005", "invalid interval 'interval:0.0005'"),
        ("interval:NaN", "invalid interval 'interval:NaN'"),
        ("cron:61 * * * *@UTC", "minute field '61' is out of range 0-59"),
        ("cron:0 0 * * *@Nowhere/Land", "unknown time zone 'Nowhere/Land'"),
    ],
)
def test_schedule_from_text_rejects_bad_text(text: str, message: str) -> None:
    with pytest.raises(InvalidScheduleError, match=re.escape(message)):
        Schedule.from_text(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@every_minute", Schedule.every_minute()),
        ("@minutely", Schedule.every_minute()),
        ("@hourly", Schedule.hourly()),
        ("@daily", Schedule.daily()),
        ("@DAILY", Schedule.daily()),
        ("@midnight", Schedule.daily()),
        ("@weekly", Schedule.weekly()),
        ("@monthly", Schedule.monthly()),
        ("@yearly", Schedule.cron("0 0 1 1 *")),
        ("@every_second", Schedule.cron("* * * * * *")),
        ("every 30s", Schedule.interval(30)),
        ("every 5m", Schedule.interval(300)),
        ("every 2h", Schedule.interval(7200)),
        ("every 1d", Schedule.interval(86400)),
        ("every 1.5h", Schedule.interval(5400)),
        ("every 5 minutes", Schedule.interval(300)),
        ("Every 10 Secs", Schedule.interval(10)),
        ("@every 10s", Schedule.interval(10)),
        ("0 2 * * *", Schedule.cron("0 2 * * *")),
        ("  0 2 * * *  ", Schedule.cron("0 2 * * *")),
    ],
)
def test_schedule_parse(text: str, expected: Schedule) -> None:
    assert Schedule.parse(text) == expected


def test_schedule_parse_reads_cron_and_shortcuts_in_time_zone() -> None:
    assert Schedule.parse("0 2 * * *", tz=NY) == Schedule.cron("0 2 * * *", tz=NY)
    assert Schedule.parse("@daily", tz=NY) == Schedule.daily(tz=NY)
    assert Schedule.cron("@daily") == Schedule.daily()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("@fortnightly", "unknown schedule shortcut '@fortnightly'; known: @every_second"),
        ("every 5x", "invalid interval 'every 5x': expected 'every <number><unit>'"),
        ("every", "invalid interval 'every'"),
        ("every 0s", "invalid interval 'every 0s': expected a positive whole number"),
        ("every 0.0001s", "invalid interval 'every 0.0001s'"),
        ("0 2 * *", "cron '0 2 * *' has 4 fields"),
    ],
)
def test_schedule_parse_rejects_bad_text(text: str, message: str) -> None:
    with pytest.raises(InvalidScheduleError, match=re.escape(message)):
        Schedule.parse(text)


def test_schedule_is_frozen_hashable_and_ordered() -> None:
    schedules = [Schedule.interval(60), Schedule.daily(), Schedule.parse("@daily")]
    assert len(set(schedules)) == 2
    assert sorted(schedules) == [Schedule.daily(), Schedule.daily(), Schedule.interval(60)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Schedule.daily().tz = "Europe/Paris"  # type: ignore[misc]


def test_a_time_zone_that_is_not_text_is_an_invalid_schedule() -> None:
    with pytest.raises(InvalidScheduleError, match="unknown time zone '5'"):
        next_run_after(Schedule.cron("0 2 * * *", tz=5), 0)  # type: ignore[arg-type]
