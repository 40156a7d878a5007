"""The day and hour tokens a date-range search of one month file asks for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs_core.store.sqlite.archive import month_bounds
from jobs_core.store.sqlite.month_search import time_terms

NOVEMBER = month_bounds("2026-11")


def ms(day: int, hour: int = 0, minute: int = 0) -> int:
    return round(datetime(2026, 11, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


def day(d: int) -> str:
    return f"jobsday{ms(d) // 86_400_000}"


def hour(d: int, h: int) -> str:
    return f"jobshour{ms(d, h) // 3_600_000}"


@pytest.mark.parametrize(
    ("since", "until", "terms"),
    [
        (ms(3), ms(5), [day(3), day(4)]),
        (ms(3, 22), ms(5, 1), [hour(3, 22), hour(3, 23), day(4), hour(5, 0)]),
        (ms(3, 22, 30), ms(3, 23, 10), [hour(3, 22), hour(3, 23)]),
        (None, ms(1, 2), [hour(1, 0), hour(1, 1)]),
        (ms(30, 23), None, [hour(30, 23)]),
        (ms(5), ms(5), []),
    ],
)
def test_whole_days_as_day_tokens_and_the_rest_as_hours(
    since: int | None, until: int | None, terms: list[str]
) -> None:
    assert time_terms(since, until, NOVEMBER) == terms
