"""`month_of` names the UTC month of a time, also when it remembers the month it named last
(the archive asks it of every finished job): at month edges, and going back and forth."""

from __future__ import annotations

import calendar

import pytest

from jobs_core.store.sqlite.month_reader import month_of


def _ms(*when: int) -> int:
    return calendar.timegm((*when, 0, 0, 0)[:6]) * 1000


@pytest.mark.parametrize(
    ("ms", "month"),
    [
        (_ms(2026, 1, 1), "2026-01"),
        (_ms(2026, 1, 1) - 1, "2025-12"),
        (_ms(2026, 1, 31, 23, 59, 59) + 999, "2026-01"),
        (_ms(2026, 2, 1), "2026-02"),
        (_ms(2024, 2, 29, 12), "2024-02"),
        (_ms(2024, 3, 1) - 1, "2024-02"),
        (0, "1970-01"),
        (-1, "1969-12"),
    ],
)
def test_month_of_names_the_utc_month_after_any_other_month(ms: int, month: str) -> None:
    for before in (_ms(2026, 1, 15), ms, _ms(1999, 7, 4), ms + 1):
        month_of(before)  # whatever it named last
        assert month_of(ms) == month
