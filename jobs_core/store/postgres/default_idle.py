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
no rule needed names its id and command in its notification (`listener.ANNOUNCED`), and
moves neither the listener's `other_token` (the token read here) nor its `named_token`.
While nothing else changed, such jobs are all that can be ready beside what the last short
claim left, so the next default claim starts those of its commands by id
(`flow_claims.CLAIM_IDS`, a fraction of the plain claim's set-up) and the skip goes on. A
job that claim leaves queued (it changed, the engine's clock is behind the producer's, it
was locked) ends the skip: the next claim looks at the table; one another engine took, or
that ended, does not. A plain claim's snapshot holds every job announced before it was
sent: they are dropped then.
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
        """Announced jobs before the last `seen`: a statement sent after it sees them."""
        self._taken = 0
        """Announced jobs `by_id` looked at."""
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

    def by_id(self, commands: list[str], now: int, limit: int) -> list[int] | None:
        """What a default claim of `commands` at `now` with room for `limit` jobs needs:
        None, a look at the table; [] nothing (no statement); else the ids it may start
        alone (`CLAIM_IDS`: jobs of `commands` announced since, all that can be ready)."""
        idle = self._still(now)
        if idle is None or idle.commands != commands:
            return None
        entries = self._listener.announced
        ids = [job_id for job_id, command in entries if command in commands]
        if len(ids) > limit:
            return None
        if not ids:
            entries.clear()  # other commands' jobs: no claim of ours starts them
        self._taken = len(entries)
        return ids

    def claimed(self, seen: Seen | None, left: int) -> None:
        """After `CLAIM_IDS` of the ids `by_id` gave (`seen` read before it) left `left` of
        them queued and not started: the skip goes on unless `left` or something else moved
        (a job another engine started, or one that ended, is no longer ready)."""
        del self._listener.announced[: self._taken]
        idle = self._idle
        if idle is None or seen != idle.seen or left:
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
