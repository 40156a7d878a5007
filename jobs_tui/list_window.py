"""`JobWindow`: the rows a list view keeps, a contiguous keyset range of the list keyed by id.

A list (the queue, a month of completed jobs) is read one keyset page at a time. The window
is what the view holds of it: rows in keyset order with no hole between them, at most `cap`
of them. It either follows the top of the list (`anchor is None`: each refresh reads the top
again) or holds still from an anchor id (the operator scrolled away from the top of a
newest-first list, or more rows arrived than one refresh can join without a hole), in which
case it knows how many rows lie above it. Pure: the view fetches the pages the window asks
for and hands them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobs_core import Job, Page

PAGE_SIZE = 100
"""Rows fetched per page."""
ROW_CAP = 1000
"""Most rows a window keeps; beyond it rows are dropped from the end away from the new ones."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Fetch:
    """A page the window asks for: `limit` rows after `cursor` (exclusive; None: the top)."""

    cursor: int | None
    limit: int
    generation: int
    """The window's generation when asked; a page for an older generation is dropped."""
    kind: str
    """`refresh` (the rows shown), `more` (`m`: continue after the last row) or `probe`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Applied:
    """What applying a page changed, for the view to report."""

    refetch: bool = False
    """The page left a gap above the rows; the window now holds still and wants a refresh."""
    dropped: list[int] = field(default_factory=list)
    """Ids dropped by the row cap (not gone from the list, only from the window)."""


class JobWindow:
    """A capped, contiguous keyset window over a list of jobs ordered by id."""

    def __init__(
        self, *, newest_first: bool, page_size: int = PAGE_SIZE, cap: int = ROW_CAP
    ) -> None:
        self.newest_first = newest_first
        """Keyset order: descending ids (archives) or ascending (the queue)."""
        self.page_size = page_size
        self.cap = max(cap, page_size)
        self.rows: list[Job] = []
        """The rows kept, in keyset order."""
        self.anchor: int | None = None
        """None: the window starts at the top of the list. Else the id it starts at."""
        self.more_cursor: int | None = None
        """Cursor continuing after the last row; None when the end of the list is shown."""
        self.above = 0
        """Rows known to lie above the window (0 while it follows the top)."""
        self.above_more = False
        """Whether more than `above` rows lie above the window."""
        self.loaded = False
        """Whether a refresh has been applied since the last reset."""
        self.generation = 0

    # -- reading ----------------------------------------------------------------------------

    @property
    def following(self) -> bool:
        return self.anchor is None

    def ids(self) -> list[int]:
        return [job.id for job in self.rows]

    def find(self, job_id: int) -> Job | None:
        return next((job for job in self.rows if job.id == job_id), None)

    def above_text(self) -> str:
        """`150 newer jobs` / `100+ newer jobs`, or empty while following the top."""
        if self.following or (not self.above and not self.above_more):
            return ""
        which = "newer" if self.newest_first else "earlier"
        plus = "+" if self.above_more else ""
        noun = "job" if self.above == 1 and not plus else "jobs"
        return f"{self.above:,}{plus} {which} {noun}"

    def _before(self, a: int, b: int) -> bool:
        """Whether id `a` comes before id `b` in keyset order."""
        return a > b if self.newest_first else a < b

    def _covers(self, page: Page[Job], job_id: int) -> bool:
        """Whether `page` (read from the top or an anchor) reaches down to `job_id`: a page
        covers the ids up to its `next_cursor`, inclusive, or all of them without one."""
        return page.next_cursor is None or not self._before(page.next_cursor, job_id)

    # -- planning ---------------------------------------------------------------------------

    def refresh_fetch(self) -> Fetch:
        """The page that refreshes the rows shown."""
        kept = max(self.page_size, len(self.rows))
        if self.anchor is None:
            # Newest-first lists grow at the top: ask for a page more than we hold, so the
            # arrivals of one refresh join the rows without a gap.
            grows = self.newest_first and bool(self.rows)
            limit = min(self.cap, kept + self.page_size) if grows else kept
            return Fetch(cursor=None, limit=limit, generation=self.generation, kind="refresh")
        cursor = self.anchor + 1 if self.newest_first else self.anchor - 1
        return Fetch(
            cursor=cursor, limit=min(self.cap, kept), generation=self.generation, kind="refresh"
        )

    def probe_fetch(self) -> Fetch | None:
        """While holding still: the top page, to count the rows above the window."""
        if self.anchor is None:
            return None
        return Fetch(cursor=None, limit=self.page_size, generation=self.generation, kind="probe")

    def more_fetch(self) -> Fetch | None:
        """The page `m` loads after the last row, or None at the end of the list."""
        if self.more_cursor is None:
            return None
        return Fetch(
            cursor=self.more_cursor, limit=self.page_size, generation=self.generation,
            kind="more",
        )  # fmt: skip

    # -- changing ---------------------------------------------------------------------------

    def reset(self) -> None:
        """The query changed: forget the rows and follow the top again."""
        self.rows = []
        self.anchor = None
        self.more_cursor = None
        self.above, self.above_more = 0, False
        self.loaded = False
        self.generation += 1

    def jump_to_top(self) -> None:
        """Follow the top again; the next refresh replaces the rows with the top page."""
        self.anchor = None
        self.above, self.above_more = 0, False
        self.rows = []
        self.more_cursor = None
        self.generation += 1

    def hold(self) -> None:
        """Stop following the top: refreshes read from the first row kept (the operator
        scrolled down a newest-first list, so arrivals must not push rows under them)."""
        if self.anchor is None and self.rows and self.newest_first:
            self.anchor = self.rows[0].id
            self.generation += 1

    def follow(self) -> None:
        """Follow the top again once nothing lies above the window."""
        if self.anchor is not None and not self.above and not self.above_more:
            self.anchor = None
            self.generation += 1

    def apply(self, fetch: Fetch, page: Page[Job]) -> Applied | None:
        """Take a page fetched for `fetch`; None when it is stale (the window moved on)."""
        if fetch.generation != self.generation:
            return None
        if fetch.kind == "more":
            if fetch.cursor != self.more_cursor:
                return None  # the rows moved on since `m` was pressed
            return self._apply_more(page)
        if fetch.kind == "probe":
            self._apply_probe(page)
            return Applied()
        self.loaded = True
        if self.anchor is not None or not self.rows or not self.newest_first:
            self.rows = list(page.items)
            self.more_cursor = page.next_cursor
            return Applied()
        return self._apply_top(page, capped=fetch.limit >= self.cap)

    def _apply_top(self, page: Page[Job], *, capped: bool) -> Applied:
        """A refreshed top page of a newest-first list that already holds rows."""
        head, tail = self.rows[0].id, self.rows[-1].id
        if self._covers(page, tail):
            # Arrivals plus every row we held (those gone from the list are gone from it).
            self.rows = [job for job in page.items if not self._before(tail, job.id)]
            if page.next_cursor is None:
                self.more_cursor = None
            elif self.more_cursor is None:
                self.more_cursor = tail  # a late row landed below the end we had reached
            return Applied()
        if capped and self._covers(page, head):
            # At the cap, the rows we held continue below this page: trim the far end.
            dropped = [job.id for job in self.rows if self._before(page.next_cursor or 0, job.id)]
            self.rows = list(page.items)
            self.more_cursor = page.next_cursor
            return Applied(dropped=dropped)
        # More arrived than one page can join: keep the rows (no hole), hold still from them.
        self.anchor = head
        self._apply_probe(page)
        self.generation += 1
        return Applied(refetch=True)

    def _apply_probe(self, page: Page[Job]) -> None:
        assert self.anchor is not None
        anchor = self.anchor
        above = [job for job in page.items if self._before(job.id, anchor)]
        self.above = len(above)
        self.above_more = len(above) == len(page.items) and page.next_cursor is not None

    def _apply_more(self, page: Page[Job]) -> Applied:
        known = {job.id for job in self.rows}
        self.rows.extend(job for job in page.items if job.id not in known)
        self.more_cursor = page.next_cursor
        # A refresh planned before this page would bring back fewer rows: drop it.
        self.generation += 1
        if len(self.rows) <= self.cap:
            return Applied()
        # Loading downwards: the far end is the top. Drop it and hold still below it.
        cut = len(self.rows) - self.cap
        dropped = [job.id for job in self.rows[:cut]]
        self.rows = self.rows[cut:]
        self.anchor = self.rows[0].id
        self.above += cut
        return Applied(dropped=dropped)


def nearest(old_order: list[int], present: set[int], selected: int) -> int | None:
    """The row the cursor moves to when job `selected` is no longer shown: the first row
    after it (in the order shown before) that is still present, else the last one before it."""
    if selected in present:
        return selected
    if selected not in old_order:
        return None
    index = old_order.index(selected)
    for job_id in old_order[index + 1 :]:
        if job_id in present:
            return job_id
    for job_id in reversed(old_order[:index]):
        if job_id in present:
            return job_id
    return None
