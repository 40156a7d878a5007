"""Whether a default claim would find nothing: an engine claims again whenever a job ends,
and one job at a time that claim came back empty and asked `next_due` after it, two
statements a job (bench/README.md, issue 9's ninth pass). A plain claim that came back
short (fewer jobs than one queue's share, no flow rule in use) claimed every due job of its
commands in its snapshot, and says when the next ready job falls due
(`claim_sql.claim_plain`'s `due`); while nothing can have made a job ready since and that
time has not come, a default claim sends no statement, and `next_due` answers from it.

"Nothing", as for named claims (`named_idle.py`): the listener connected and its `token`
unmoved since before that claim's statement (every notification of another connection moves
it, this store's own do not: an outcome this engine writes makes no job ready unless
`NamedIdle.writes` says so), no other counted call of the store lent a connection meanwhile
(`Database.activity`: an enqueue or a requeue of this process), no outcome write that
retried a job, released a dependent, added a job, or failed, the same commands, and a clock
that has not gone back. A change that sends no notification moves the token by the
listener's probe within a second, as for every other wake-up.

One change leaves the skip: an enqueue of one job that is ready and due at once and makes
no rule needed names its id in its notification (`listener.ANNOUNCED`), and moves neither
the listener's `other_token` (the token read here) nor its `named_token`. While nothing else
changed, such ids are all that can be ready beside what the last short claim left, so the
next default claim starts them by id (`flow_claims.CLAIM_IDS`, a fraction of the plain
claim's set-up) and the skip goes on. An id that claim does not start (another engine took
it, it changed, the engine's clock is behind the producer's) ends the skip: the next claim
looks at the table. A plain claim's snapshot holds every job announced before it was sent:
their ids are dropped then.
"""

from __future__ import annotations

from dataclasses import dataclass

from .claim_sql import NEVER_DUE
from .database import Database
from .flow_claims import ClaimRound
from .listener import ChangeListener
from .named_idle import NamedIdle

Seen = tuple[int, int, int]
"""The listener's `token`, `Database.activity` and `NamedIdle.writes`, read together."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Idle:
    """What a short plain claim left: nothing more due before `due`."""

    seen: Seen
    commands: list[str]
    now: int
    due: int


class DefaultIdle:
    """What a store knows of its default worker's due jobs between claims."""

    def __init__(self, listener: ChangeListener, db: Database, named: NamedIdle) -> None:
        self._listener = listener
        self._db = db
        self._named = named
        self._idle: Idle | None = None
        self._covered = 0
        """Announced ids before the last `seen`: a statement sent after it sees their jobs."""
        self._full = False
        """The last plain default claim took all one queue's share: the next one likely
        will too, and leaves out the `due` probe (its plan nodes cost a full claim ~0.5-1 µs
        a job of server CPU in claims of 100, bench/README.md)."""

    def seen(self) -> Seen | None:
        """Read before a statement; None when it cannot tell (the listener is away, or a
        counted call of the store is under way)."""
        self._covered = len(self._listener.announced)
        return self._now_seen()

    def _now_seen(self) -> Seen | None:
        if not self._listener.connected or self._db.lent:
            return None
        return self._listener.other_token, self._db.activity, self._named.writes

    def _still(self, now: int) -> Idle | None:
        idle = self._idle
        if idle is None or now < idle.now or now >= idle.due or self._now_seen() != idle.seen:
            return None
        return idle

    def nothing_ready(self, commands: list[str], now: int) -> bool:
        """Whether a default claim of `commands` at `now` would find nothing."""
        idle = self._still(now)
        return idle is not None and idle.commands == commands and not self._listener.announced

    def announced(self, commands: list[str], now: int, limit: int) -> list[int]:
        """The announced ids a default claim of `commands` at `now` may start by id, at most
        `limit` (none: look at the table, or nothing to start)."""
        idle, ids = self._still(now), self._listener.announced
        if idle is None or idle.commands != commands or len(ids) > limit:
            return []
        return list(ids)

    def claimed(self, seen: Seen | None, ids: list[int], started: int) -> None:
        """After `CLAIM_IDS` started `started` of `ids` (`seen` read before it)."""
        del self._listener.announced[: len(ids)]
        idle = self._idle
        if idle is None or seen != idle.seen or started < len(ids):
            self._idle = None
            return
        token, activity, writes = seen
        if self._db.activity == activity + 2:  # only the statement's own lending and return
            self._idle = Idle(
                seen=(token, activity + 2, writes), commands=idle.commands, now=idle.now,
                due=idle.due,
            )  # fmt: skip
        else:
            self._idle = None

    def next_due(self, now: int) -> tuple[bool, int | None]:
        """(known, `next_due(now)`) as the last short claim left it (None: no ready job has
        a later `run_after`); not known when that claim cannot tell (ask the server)."""
        idle = self._still(now)
        if idle is None or self._listener.announced:
            return False, None
        return True, None if idle.due == NEVER_DUE else idle.due

    def wants_due(self) -> bool:
        """Whether the next plain claim should say when the next ready job falls due."""
        return self._listener.connected and not self._full

    def forget(self) -> None:
        """Before a default claim's statements."""
        self._idle = None

    def note(
        self, seen: Seen | None, commands: list[str], now: int, found: ClaimRound, cap: int
    ) -> None:
        """After a plain default claim statement: `seen` read before it, `found` its round
        (its `due` is set only when it came back short with no rule in use), `cap` its
        per-queue share."""
        self._idle = None
        del self._listener.announced[: self._covered]
        self._full = len(found.jobs) >= cap
        if seen is None or found.due is None:
            return
        token, activity, writes = seen
        if self._db.activity == activity + 2:  # only the statement's own lending and return
            self._idle = Idle(
                seen=(token, activity + 2, writes), commands=list(commands), now=now,
                due=found.due,
            )  # fmt: skip
