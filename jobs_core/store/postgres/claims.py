"""Claims whose answer was lost with the connection: their jobs go back to the queue.

A claim is one statement; if the connection dies while it commits, the jobs may be started
and owned by this engine without the engine knowing. Its lease stays alive, so recovery
would never see them: the next claim first puts them back (attempt refunded). A claim is
recognised by owner, start time and kind (named or not); jobs a successful claim with the
same key returned are running, and excluded.
"""

from __future__ import annotations

from collections import OrderedDict

from .connection import Conn

# A claim writes only the live row (the summary follows at the job's next change).
RELEASE = """
UPDATE background_job
SET state = 'queued', owner = NULL, attempts = attempts - 1, started_date = NULL
WHERE owner = $1 AND state = 'started' AND started_date = $2 AND (worker <> '') = $3
  AND id <> ALL($4::bigint[])
"""

REMEMBERED = 16
"""Recent successful claims kept: a lost claim shares its key only with claims of the same
millisecond."""

Key = tuple[str, int, bool]


class ClaimLedger:
    """Recent claims by key, and the claims whose outcome is unknown."""

    def __init__(self) -> None:
        self._recent: OrderedDict[Key, list[int]] = OrderedDict()
        self.lost: list[Key] = []

    def note_claimed(self, owner: str, now: int, named: bool, ids: list[int]) -> None:
        key = (owner, now, named)
        self._recent.setdefault(key, []).extend(ids)
        self._recent.move_to_end(key)
        while len(self._recent) > REMEMBERED:
            self._recent.popitem(last=False)

    def note_lost(self, owner: str, now: int, named: bool) -> None:
        self.lost.append((owner, now, named))

    async def release_lost(self, conn: Conn) -> None:
        """Requeue the jobs of lost claims (inside the caller's transaction)."""
        for owner, now, named in self.lost:
            running = self._recent.get((owner, now, named), [])
            await conn.execute(RELEASE, owner, now, named, running)
        self.lost.clear()
