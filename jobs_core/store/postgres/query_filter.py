"""The part of the job query language the PostgreSQL store answers so far: exact fields and
one text phrase, as a `JobFilter` (prefixes, negation, several values, `args.`, errors and
time bounds come with the PostgreSQL port of the query language)."""

from __future__ import annotations

from jobs_core.errors import InvalidQueryError
from jobs_core.query import JobQuery, Term
from jobs_core.records import JobFilter, JobState

_FIELDS = frozenset(
    {"command", "tag", "batch_id", "created_by", "user_id", "ref_id", "worker", "state"}
)


def filter_of(query: JobQuery) -> JobFilter:
    """`query` as a JobFilter; InvalidQueryError naming the first term PostgreSQL cannot
    answer yet."""
    if query.since is not None or query.before is not None:
        raise _unsupported(f"since:/before: in '{query}'")
    values: dict[str, str | JobState] = {}
    for term in query.terms:
        name = "text" if term.key == "text" else term.column
        if not _simple(term) or (name not in _FIELDS and name != "text") or name in values:
            raise _unsupported(f"'{term}'")
        values[name] = JobState(term.values[0]) if name == "state" else term.values[0]
    return JobFilter(**values)  # type: ignore[arg-type]


def _simple(term: Term) -> bool:
    if term.negate or term.prefix or len(term.values) != 1:
        return False
    return term.key != "state" or term.values[0] in JobState._value2member_map_


def _unsupported(what: str) -> InvalidQueryError:
    return InvalidQueryError(
        f"{what}: a PostgreSQL store answers exact fields (state, command, tag, batch, user, "
        "created_by, ref, worker) and one text phrase so far"
    )
