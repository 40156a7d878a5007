"""The job query language: `state:failed command:import* -tag:x args.customer:42 since:2h`.

Pure: `JobQuery.parse(text)` reads what an operator types (the admin app's filter, `jobs list`,
`--query`), `str(query)` writes it back in canonical form, and the store turns a query into
SQL from an allow-list (`store/sqlite/filters.py`). Terms:

- `key:value` matches a field exactly; `key:a,b` matches either; `key:pre*` matches a prefix;
  `-key:value` excludes. Keys: see `KEYS`. `args.NAME:value` matches an argument.
- `since:` / `before:` bound the job's time (when it finished, or when it was created if it
  has not): an age (`30s`, `15m`, `2h`, `7d`) or a UTC date (`2026-11-01`, `2026-11-01T09:30`).
- `timeout` (a bare word) means `error:Timeout`: attempts that ran out of time.
- Any other word searches the text (command, status, error, request, ref, tag); `-word`
  excludes it; `"two words"` searches a phrase.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from .errors import InvalidQueryError
from .records import JobFilter, JobState

FIELD_KEYS: dict[str, str] = {
    "state": "state",
    "command": "command",
    "tag": "tag",
    "batch": "batch_id",
    "user": "user_id",
    "created_by": "created_by",
    "ref": "ref_id",
    "worker": "worker",
    "queue": "queue",
    "error": "error_code",
}
"""Query key → the job field it matches."""

TIME_KEYS = ("since", "before")
KEYS = (*FIELD_KEYS, "args.NAME", *TIME_KEYS)
"""Every key, in canonical order (for messages and suggestions)."""

STATE_WORDS: dict[str, tuple[JobState, ...]] = {
    **{state.value: (state,) for state in JobState},
    "running": (JobState.STARTED,),
    "active": (JobState.QUEUED, JobState.STARTED, JobState.EXECUTED),
    "finished": (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED),
}
"""Words `state:` accepts, and the states each stands for."""

FLAGS: dict[str, tuple[str, str]] = {"timeout": ("error", "Timeout")}
"""Bare words that are terms of their own: word → (key, value)."""

_AGE = re.compile(r"^(\d+)(s|m|h|d|w)$")
_AGE_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_ARG_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Term:
    """One condition: `key` matches one of `values` (a prefix of one, if `prefix`)."""

    key: str
    """A key of `FIELD_KEYS`, `args.NAME`, or `text` for a searched word."""
    values: tuple[str, ...]
    negate: bool = False
    prefix: bool = False

    @property
    def column(self) -> str:
        """The job field the term matches (`args.NAME` and `text` are kept as they are)."""
        return FIELD_KEYS.get(self.key, self.key)

    def __str__(self) -> str:
        sign = "-" if self.negate else ""
        values = ",".join(_quoted(v) for v in self.values) + ("*" if self.prefix else "")
        if self.key == "text":
            return sign + values
        return f"{sign}{self.key}:{values}"


@dataclass(frozen=True, slots=True)
class TimeBound:
    """A `since:`/`before:` value: an age before now, or a UTC time."""

    text: str
    """As written (and written back)."""
    ms: int
    """The age in ms when `relative`, else the epoch-ms time."""
    relative: bool

    def at(self, now: int) -> int:
        """The epoch-ms time this bound stands for at `now`."""
        return now - self.ms if self.relative else self.ms


@dataclass(frozen=True, slots=True, kw_only=True)
class JobQuery:
    """A parsed query: every term must hold (terms on one key and different keys alike)."""

    terms: tuple[Term, ...] = ()
    since: TimeBound | None = None
    before: TimeBound | None = None
    now: int | None = field(default=None, compare=False)
    """The time relative bounds are measured from, once `at(now)` fixed it."""

    @classmethod
    def parse(cls, text: str) -> JobQuery:
        """Read a query; `InvalidQueryError` names the bad term and lists the known keys."""
        try:
            tokens = shlex.split(text, posix=True)
        except ValueError as error:
            raise InvalidQueryError(f"cannot read the query {text!r}: {error}") from None
        terms: list[Term] = []
        bounds: dict[str, TimeBound] = {}
        for token in tokens:
            _read_token(token, terms, bounds)
        return cls(terms=tuple(sorted(terms, key=_order)), since=bounds.get("since"),
                   before=bounds.get("before"))  # fmt: skip

    @classmethod
    def coerce(cls, query: JobQuery | JobFilter | str | None) -> JobQuery:
        """A query from what the API accepts: a query, its text, a `JobFilter`, or None."""
        if query is None:
            return cls()
        if isinstance(query, JobQuery):
            return query
        if isinstance(query, str):
            return cls.parse(query)
        return cls.from_filter(query)

    @classmethod
    def from_filter(cls, flt: JobFilter) -> JobQuery:
        """The query a `JobFilter` stands for (exact fields, `text` as a phrase)."""
        by_field = {column: key for key, column in FIELD_KEYS.items()}
        terms = [
            Term(key=by_field[name], values=(str(value),))
            for name in ("command", "tag", "batch_id", "created_by", "user_id", "ref_id",
                         "worker", "state")
            if (value := getattr(flt, name)) is not None
        ]  # fmt: skip
        if flt.text:
            terms.append(Term(key="text", values=(flt.text,)))
        return cls(terms=tuple(sorted(terms, key=_order)))

    def at(self, now: int) -> JobQuery:
        """This query with its relative bounds measured from `now` (what a store reads)."""
        return replace(self, now=now)

    def time_range(self) -> tuple[int | None, int | None]:
        """(since, before) in epoch ms; needs `at(now)` when a bound is an age."""
        return self._bound(self.since), self._bound(self.before)

    def _bound(self, bound: TimeBound | None) -> int | None:
        if bound is None:
            return None
        if bound.relative and self.now is None:
            raise ValueError(f"{bound.text} is an age: fix the query's time with at(now)")
        return bound.at(self.now or 0)

    @property
    def states(self) -> frozenset[JobState]:
        """The states a matching job may be in (every state unless `state:` narrows it)."""
        allowed = set(JobState)
        for term in self.terms:
            if term.key != "state":
                continue
            named = {state for value in term.values for state in STATE_WORDS[value]}
            allowed = allowed - named if term.negate else allowed & named
        return frozenset(allowed)

    def with_states(self, states: frozenset[JobState]) -> JobQuery:
        """This query limited to `states` too (a view's scope: the failed view, the queue)."""
        if self.states <= states:
            return self
        values = tuple(sorted(state.value for state in states))
        terms = (*self.terms, Term(key="state", values=values))
        return replace(self, terms=tuple(sorted(terms, key=_order)))

    def with_term(self, key: str, *values: str, negate: bool = False) -> JobQuery:
        """This query and `key:values` too (e.g. a batch view's `batch:` on the filter)."""
        term = Term(key=key, values=values, negate=negate)
        return replace(self, terms=tuple(sorted((*self.terms, term), key=_order)))

    def __bool__(self) -> bool:
        return bool(self.terms) or self.since is not None or self.before is not None

    def __str__(self) -> str:
        words = [str(term) for term in self.terms]
        if self.since is not None:
            words.append(f"since:{self.since.text}")
        if self.before is not None:
            words.append(f"before:{self.before.text}")
        return " ".join(words)


def _order(term: Term) -> tuple[int, str, bool, tuple[str, ...]]:
    keys = list(FIELD_KEYS)
    rank = keys.index(term.key) if term.key in FIELD_KEYS else len(keys) + (term.key == "text")
    return rank, term.key, term.negate, term.values


def _read_token(token: str, terms: list[Term], bounds: dict[str, TimeBound]) -> None:
    negate = token.startswith("-") and len(token) > 1
    body = token[1:] if negate else token
    key, colon, value = body.partition(":")
    if not colon or " " in key or not key:
        if body.lower() in FLAGS:
            flag_key, flag_value = FLAGS[body.lower()]
            terms.append(Term(key=flag_key, values=(flag_value,), negate=negate))
        else:
            terms.append(Term(key="text", values=(body.rstrip("*") or body,), negate=negate))
        return
    key = key.lower()
    if value.startswith("//"):  # a URL: searched as text, not read as a key
        terms.append(Term(key="text", values=(body,), negate=negate))
        return
    if key in TIME_KEYS:
        if negate:
            raise InvalidQueryError(f"'{token}': {key}: cannot be negated; use the other bound")
        bounds[key] = _time_bound(key, value)
        return
    terms.append(_field_term(token, key, value, negate))


def _field_term(token: str, key: str, value: str, negate: bool) -> Term:
    if key.startswith("args."):
        if not _ARG_NAME.match(key[5:]):
            raise InvalidQueryError(
                f"'{token}': an argument name has letters, digits, '_', '-' or '.'"
            )
    elif key not in FIELD_KEYS:
        raise InvalidQueryError(f"'{token}': unknown key '{key}'; known keys: {', '.join(KEYS)}")
    prefix = value.endswith("*")
    values = tuple(v for v in (value[:-1] if prefix else value).split(",") if v or prefix)
    if not values and not prefix:
        raise InvalidQueryError(f"'{token}': {key}: needs a value")
    if key == "state":
        if prefix:
            raise InvalidQueryError(f"'{token}': state: takes whole state names")
        values = tuple(_state_word(token, v) for v in values)
    return Term(key=key, values=values or ("",), negate=negate, prefix=prefix)


def _state_word(token: str, value: str) -> str:
    word = value.lower()
    if word not in STATE_WORDS:
        raise InvalidQueryError(
            f"'{token}': unknown state '{value}'; known: {', '.join(STATE_WORDS)}"
        )
    return word


def _time_bound(key: str, value: str) -> TimeBound:
    age = _AGE.match(value.strip().lower())
    if age:
        return TimeBound(value, int(age[1]) * _AGE_MS[age[2]], relative=True)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidQueryError(
            f"'{key}:{value}': expected an age (30s, 15m, 2h, 7d, 2w) or a UTC date "
            "(2026-11-01 or 2026-11-01T09:30)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return TimeBound(value, int(when.timestamp() * 1000), relative=False)


def _quoted(value: str) -> str:
    """A value as the parser reads it back (quoted when it has spaces or quotes)."""
    if value and not re.search(r"[\s\"'\\]", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
