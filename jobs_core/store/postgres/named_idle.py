"""Whether a named claim would find nothing: an engine asks for named workers' jobs after
every change another process announces, and one job at a time that was a round trip a job
(bench/README.md, issue 9's eighth pass). The plain claim (`claim_sql.claim_plain`) also
says whether a named worker's job was ready; while nothing can have made one ready since it
said none, a named claim sends no statement.

"Nothing": the listener connected and its `named_token` unmoved since before that claim's
statement (a notification sent after the snapshot moves it; an enqueue of default-worker
jobs alone says so and leaves it, `listener.NOT_NAMED`), no other counted call of the store
lent a connection meanwhile (`Database.activity`: its commit might follow the snapshot), and
no outcome write (not counted: it runs beside claims) that may have made one ready, or
failed. A change of another connection that sends no notification moves the token by the
listener's probe within a second, as for every other wake-up.
"""

from __future__ import annotations

from jobs_core.records import JobState
from jobs_core.store.protocol import FinishResult, Transition

from .database import Database
from .flow_claims import ClaimRound
from .listener import ChangeListener

Seen = tuple[int, int, int]
"""The listener's `named_token`, `Database.activity` and `NamedIdle.writes`, read together."""


class NamedIdle:
    """What a store knows of its named workers' ready jobs between claims."""

    def __init__(self, listener: ChangeListener, db: Database) -> None:
        self._listener = listener
        self._db = db
        self._idle: Seen | None = None
        """What `seen` said after a plain claim found no named worker's job ready."""
        self.writes = 0
        """Bumped when an outcome write may have made a named worker's job ready (a retry,
        a released dependent, a follow-up), or failed."""

    def seen(self) -> Seen | None:
        """Read before a statement; None when it cannot tell (the listener is away, or a
        counted call of the store is under way)."""
        if not self._listener.connected or self._db.lent:
            return None
        return self._listener.named_token, self._db.activity, self.writes

    def nothing_ready(self) -> bool:
        """Whether a named claim now would find nothing (nothing changed since a plain claim
        saw no named worker's job ready)."""
        return self._idle is not None and self._idle == self.seen()

    def note(self, seen: Seen | None, found: ClaimRound) -> None:
        """After a plain claim statement: `seen` read before it, `found` its round."""
        self._idle = None
        if seen is None or found.named_ready:
            return
        token, activity, writes = seen
        if self._db.activity == activity + 2:  # only the statement's own lending and return
            self._idle = (token, activity + 2, writes)

    def kept(self, seen: Seen | None) -> None:
        """After a default claim by id (`flow_claims.CLAIM_IDS`, `seen` read before it),
        which makes no named worker's job ready: the skip goes on if nothing else moved."""
        idle = self._idle
        if idle is None or seen != idle:
            return
        token, activity, writes = seen
        if self._db.activity == activity + 2:
            self._idle = (token, activity + 2, writes)
        else:
            self._idle = None

    def wrote(self, transitions: list[Transition], result: FinishResult | None) -> None:
        """After an outcome write (`result` None: it failed)."""
        if (
            result is None or result.released_dependents or result.new_job_ids
            or any(t.state is JobState.QUEUED for t in transitions)
        ):  # fmt: skip
            self.writes += 1
