"""The day and hour tokens a date-range search of one month file asks for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs_core.store.sqlite.archive import month_bounds
from jobs_core.store.sqlite.month_search import time_terms

NOVEMBER = month_bounds("2026-11")


def ms(day: int, hour: int = 0, minute: int = 0) -> int:
    return round(datetime(2026, 11, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("since", "until", "terms"),
    [
        (ms(3), ms(5), ["jobsday20261103", "jobsday20261104"]),
        (ms(3, 22), ms(5, 1), ["jobshour2026110322", "jobshour2026110323", "jobsday20261104",
                               "jobshour2026110500"]),
        (ms(3, 22, 30), ms(3, 23, 10), ["jobshour2026110322", "jobshour2026110323"]),
        (None, ms(1, 2), ["jobshour2026110100", "jobshour2026110101"]),
        (ms(30, 23), None, ["jobshour2026113023"]),
        (ms(5), ms(5), []),
    ],
)  # fmt: skip
def test_whole_days_as_day_tokens_and_the_rest_as_hours(
    since: int | None, until: int | None, terms: list[str]
) -> None:
    assert time_terms(since, until, NOVEMBER) == terms
