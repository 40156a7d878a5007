"""The list window: contiguous keyset rows, new rows at the top, `m` in order, a row cap."""

from __future__ import annotations

import pytest

from jobs_core import Job, JobState, Page
from jobs_tui.list_window import Fetch, JobWindow, nearest


class FakeList:
    """A list of job ids read with the store's keyset rules (covers up to `next_cursor`)."""

    def __init__(self, ids: list[int], *, newest_first: bool = True) -> None:
        self.ids = set(ids)
        self.newest_first = newest_first

    def ordered(self) -> list[int]:
        return sorted(self.ids, reverse=self.newest_first)

    def page(self, fetch: Fetch) -> Page[Job]:
        ordered = self.ordered()
        if fetch.cursor is not None:
            cursor = fetch.cursor
            ordered = [i for i in ordered if (i < cursor if self.newest_first else i > cursor)]
        items = [Job(id=i, command="c", state=JobState.COMPLETED) for i in ordered[: fetch.limit]]
        more = len(ordered) > fetch.limit
        return Page(items=items, next_cursor=items[-1].id if more else None)

    def add(self, first: int, count: int) -> None:
        self.ids.update(range(first, first + count))


def refresh(window: JobWindow, source: FakeList) -> None:
    """What the view's refresher does: refresh (again if asked), then probe when holding."""
    fetch = window.refresh_fetch()
    applied = window.apply(fetch, source.page(fetch))
    if applied is not None and applied.refetch:
        fetch = window.refresh_fetch()
        window.apply(fetch, source.page(fetch))
    probe = window.probe_fetch()
    if probe is not None:
        window.apply(probe, source.page(probe))


def load_more(window: JobWindow, source: FakeList) -> None:
    fetch = window.more_fetch()
    assert fetch is not None
    window.apply(fetch, source.page(fetch))


def assert_contiguous(window: JobWindow, source: FakeList) -> None:
    """The rows are exactly the list's rows from the first one shown: no hole, no order jump."""
    shown = window.ids()
    ordered = source.ordered()
    start = ordered.index(shown[0])
    assert shown == ordered[start : start + len(shown)]


def test_first_refresh_shows_the_top_page_and_more_continues_in_order() -> None:
    source = FakeList(list(range(1, 251)))
    window = JobWindow(newest_first=True)
    refresh(window, source)
    assert window.ids() == list(range(250, 150, -1))
    load_more(window, source)
    assert window.ids() == list(range(250, 50, -1))
    load_more(window, source)
    assert window.ids()[-1] == 1 and window.more_fetch() is None
    assert_contiguous(window, source)


def test_300_jobs_finishing_while_away_never_leave_a_hole() -> None:
    """The issue's case: 100 shown, 300 finish elsewhere, come back, then `m`."""
    source = FakeList(list(range(1, 2013)))  # newest 2012
    window = JobWindow(newest_first=True)
    refresh(window, source)
    assert window.ids()[0] == 2012 and len(window.rows) == 100
    source.add(2013, 300)
    refresh(window, source)
    assert_contiguous(window, source)
    assert window.ids()[0] == 2012  # held still: the rows under the cursor did not move
    assert window.above_text() == "100+ newer jobs"
    load_more(window, source)  # continues in order from the last shown id
    assert_contiguous(window, source)
    assert window.ids()[-1] == 1813
    window.jump_to_top()
    refresh(window, source)
    assert window.ids()[0] == 2312 and window.following
    assert_contiguous(window, source)
    load_more(window, source)
    assert_contiguous(window, source)


def test_a_page_of_arrivals_joins_the_top_and_keeps_every_row_held() -> None:
    source = FakeList(list(range(1, 501)))
    window = JobWindow(newest_first=True)
    refresh(window, source)
    load_more(window, source)  # 200 rows: 500..301
    source.add(501, 60)
    refresh(window, source)
    assert window.ids()[0] == 560 and window.ids()[-1] == 301
    assert_contiguous(window, source)
    assert window.following


def test_rows_that_leave_the_list_leave_the_window_and_late_rows_join_it() -> None:
    source = FakeList(list(range(1, 301)))
    window = JobWindow(newest_first=True)
    refresh(window, source)
    source.ids -= {290, 250}  # requeued or deleted
    source.ids.add(1000)  # arrived
    refresh(window, source)
    assert 290 not in window.ids() and 250 not in window.ids()
    assert window.ids()[0] == 1000
    assert_contiguous(window, source)


@pytest.mark.parametrize(("cap", "pages"), [(300, 5), (1000, 12)])
def test_more_keeps_at_most_the_cap_dropping_the_far_end(cap: int, pages: int) -> None:
    source = FakeList(list(range(1, 3001)))
    window = JobWindow(newest_first=True, cap=cap)
    refresh(window, source)
    for _ in range(pages):
        load_more(window, source)
    assert len(window.rows) == cap
    assert window.ids()[-1] == 3000 - 100 * (pages + 1) + 1
    assert not window.following and window.above == 100 * (pages + 1) - cap
    assert_contiguous(window, source)
    refresh(window, source)  # a refresh of a held window reads from its anchor
    assert len(window.rows) == cap
    assert_contiguous(window, source)


def test_arrivals_at_the_cap_trim_the_bottom_while_following() -> None:
    source = FakeList(list(range(1, 2001)))
    window = JobWindow(newest_first=True, cap=300)
    refresh(window, source)
    load_more(window, source)
    load_more(window, source)  # 300 rows: 2000..1701
    source.add(2001, 50)
    refresh(window, source)
    assert window.ids()[0] == 2050 and len(window.rows) == 300
    assert_contiguous(window, source)


def test_a_held_window_follows_again_when_nothing_is_above() -> None:
    source = FakeList(list(range(1, 301)))
    window = JobWindow(newest_first=True)
    refresh(window, source)
    window.hold()
    refresh(window, source)
    assert not window.following and window.above_text() == ""
    window.follow()
    assert window.following
    source.add(301, 5)
    window.hold()
    refresh(window, source)
    assert window.above_text() == "5 newer jobs" and window.ids()[0] == 300
    window.follow()  # something is above: stays held until the operator jumps to the top
    assert not window.following


def test_queue_oldest_first_drops_finished_rows_at_the_top_and_shows_later_ones() -> None:
    source = FakeList(list(range(1, 151)), newest_first=False)
    window = JobWindow(newest_first=False)
    refresh(window, source)
    assert window.ids() == list(range(1, 101))
    source.ids -= set(range(1, 11))  # ten finished
    source.add(151, 5)
    refresh(window, source)
    assert window.ids() == list(range(11, 111))
    assert_contiguous(window, source)


def test_a_page_for_an_older_generation_is_dropped() -> None:
    source = FakeList(list(range(1, 301)))
    window = JobWindow(newest_first=True)
    fetch = window.refresh_fetch()
    window.reset()  # the filter changed while the page was read
    assert window.apply(fetch, source.page(fetch)) is None
    assert window.rows == []


def test_bounded_scan_pages_cover_their_window_end() -> None:
    """A text search page may end at its scan window with few rows: that is not a hole."""
    window = JobWindow(newest_first=True)
    fetch = window.refresh_fetch()
    window.apply(fetch, Page(items=[Job(id=9000, command="c")], next_cursor=5000))
    fetch = window.more_fetch()
    assert fetch is not None and fetch.cursor == 5000


@pytest.mark.parametrize(
    ("old", "present", "selected", "expected"),
    [
        ([5, 4, 3, 2], {5, 4, 3, 2}, 3, 3),  # still there
        ([5, 4, 3, 2], {5, 4, 2}, 3, 2),  # gone: the next row below
        ([5, 4, 3, 2], {5, 4}, 3, 4),  # gone, nothing below: the row above
        ([5, 4, 3], set(), 4, None),  # nothing left
        ([5, 4, 3], {5}, 9, None),  # was not shown
    ],
)
def test_nearest_row_when_the_selected_job_leaves(
    old: list[int], present: set[int], selected: int, expected: int | None
) -> None:
    assert nearest(old, present, selected) == expected
