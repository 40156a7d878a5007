"""The job query language: parsing, canonical text, errors that name the term."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from jobs_core import InvalidQueryError, JobFilter, JobQuery, JobState
from jobs_core.query import KEYS, Term

T0 = int(datetime(2026, 11, 2, 9, 0, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("state:failed", [Term(key="state", values=("failed",))]),
        ("command:import*", [Term(key="command", values=("import",), prefix=True)]),
        ("-tag:x", [Term(key="tag", values=("x",), negate=True)]),
        ("batch:b-1 user:u created_by:c ref:r worker:w",
         [Term(key="batch", values=("b-1",)), Term(key="user", values=("u",)),
          Term(key="created_by", values=("c",)), Term(key="ref", values=("r",)),
          Term(key="worker", values=("w",))]),
        ("args.customer:42", [Term(key="args.customer", values=("42",))]),
        ("state:failed,cancelled", [Term(key="state", values=("failed", "cancelled"))]),
        ("STATE:Running", [Term(key="state", values=("running",))]),
        ("acme", [Term(key="text", values=("acme",))]),
        ('"two words" -noise', [Term(key="text", values=("two words",)),
                                Term(key="text", values=("noise",), negate=True)]),
        ("timeout", [Term(key="error", values=("Timeout",))]),
        ("https://example.com/x", [Term(key="text", values=("https://example.com/x",))]),
        ("command:*", [Term(key="command", values=("",), prefix=True)]),
    ],
)  # fmt: skip
def test_parse_reads_each_kind_of_term(text: str, terms: list[Term]) -> None:
    assert sorted(JobQuery.parse(text).terms) == sorted(terms)


@pytest.mark.parametrize(
    "text",
    [
        "state:failed command:import* -tag:x args.customer:42 since:2h before:2026-11-01",
        'tag:"two words" acme -noise',
        'tag:\'say "hi"\' "back\\\\slash"',
        "state:failed,cancelled worker:mailer timeout",
        "",
    ],
)
def test_canonical_text_reads_back_to_the_same_query(text: str) -> None:
    query = JobQuery.parse(text)
    assert JobQuery.parse(str(query)) == query
    assert str(JobQuery.parse(str(query))) == str(query)


def test_canonical_text_orders_keys_and_puts_words_last() -> None:
    query = JobQuery.parse("acme since:2h -tag:x command:send_email state:failed")
    assert str(query) == "state:failed command:send_email -tag:x acme since:2h"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour:red", "'colour:red': unknown key 'colour'; known keys: " + ", ".join(KEYS)),
        ("state:lost", "'state:lost': unknown state 'lost'; known: queued, started"),
        ("since:yesterday", "'since:yesterday': expected an age (30s, 15m, 2h, 7d, 2w) or a "),
        ("-since:2h", "'-since:2h': since: cannot be negated"),
        ("tag:", "'tag:': tag: needs a value"),
        ('tag:"open', "cannot read the query 'tag:\"open'"),
        ("args.$x:1", "'args.$x:1': an argument name has letters, digits"),
        ("state:fail*", "'state:fail*': state: takes whole state names"),
    ],
)
def test_bad_terms_are_named(text: str, message: str) -> None:
    with pytest.raises(InvalidQueryError, match=re.escape(message)):
        JobQuery.parse(text)


def test_states_narrow_by_state_terms() -> None:
    assert JobQuery.parse("").states == frozenset(JobState)
    assert JobQuery.parse("state:active").states == {
        JobState.QUEUED, JobState.STARTED, JobState.EXECUTED
    }  # fmt: skip
    assert JobQuery.parse("-state:finished").states == {
        JobState.QUEUED, JobState.STARTED, JobState.EXECUTED
    }  # fmt: skip
    assert JobQuery.parse("state:failed,completed -state:completed").states == {JobState.FAILED}


def test_with_states_adds_a_scope_only_when_needed() -> None:
    failed_view = frozenset({JobState.FAILED, JobState.CANCELLED})
    query = JobQuery.parse("command:x")
    scoped = query.with_states(failed_view)
    assert scoped.states == failed_view and str(scoped) == "state:cancelled,failed command:x"
    narrow = JobQuery.parse("state:failed")
    assert narrow.with_states(failed_view) is narrow


def test_time_bounds_are_ages_or_utc_dates() -> None:
    query = JobQuery.parse("since:2h before:2026-11-02T08:30")
    with pytest.raises(ValueError, match="is an age"):
        query.time_range()
    since, before = query.at(T0).time_range()
    assert since == T0 - 2 * 3_600_000
    assert before == T0 - 30 * 60_000
    assert JobQuery.parse("since:2026-11-02").at(0).time_range() == (T0 - 9 * 3_600_000, None)


def test_a_job_filter_becomes_the_same_query() -> None:
    flt = JobFilter(command="send_email", state=JobState.FAILED, text="acme corp")
    assert str(JobQuery.from_filter(flt)) == 'state:failed command:send_email "acme corp"'
    assert JobQuery.coerce(None) == JobQuery()
    assert JobQuery.coerce("tag:x") == JobQuery.parse("tag:x")
    assert not JobQuery() and JobQuery.parse("tag:x")
