"""Retry policies as tables: backoff kinds, caps, jitter, which errors are retried, JSON."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from jobs_core import BackoffKind, InvalidOptionError, PermanentError, RetryPolicy
from jobs_core.retry_policy import delay_ms, policy_from_json, policy_to_json, should_retry

DEFAULTS = {"default_base": 5.0, "default_cap": 300.0, "default_jitter": 0.0}


class Flaky(ConnectionError):
    """A subclass, to show that policies match subclasses."""


@pytest.mark.parametrize(
    ("policy", "attempt", "expected_ms"),
    [
        (None, 1, 5_000),  # today's rule: exponential from the settings
        (None, 3, 20_000),
        (None, 20, 300_000),  # capped by the settings
        (RetryPolicy(), 2, 10_000),  # unset fields come from the settings
        (RetryPolicy(base=1), 1, 1_000),
        (RetryPolicy(base=1), 4, 8_000),
        (RetryPolicy(base=1, cap=5), 4, 5_000),
        (RetryPolicy(base=timedelta(milliseconds=250)), 3, 1_000),
        (RetryPolicy(backoff="linear", base=2), 1, 2_000),
        (RetryPolicy(backoff="linear", base=2), 3, 6_000),
        (RetryPolicy(backoff=BackoffKind.LINEAR, base=2, cap=timedelta(seconds=5)), 9, 5_000),
        (RetryPolicy(backoff="fixed", base=7), 1, 7_000),
        (RetryPolicy(backoff="fixed", base=7), 50, 7_000),
        (RetryPolicy(base=0), 5, 0),
        (RetryPolicy(base=1, cap=10_000), 2000, 10_000_000),  # no float overflow
    ],
)
def test_delay_ms_follows_the_backoff_kind(
    policy: RetryPolicy | None, attempt: int, expected_ms: int
) -> None:
    assert delay_ms(policy, attempt, random.Random(1), **DEFAULTS) == expected_ms


@pytest.mark.parametrize("seed", range(20))
def test_delay_ms_jitter_stays_within_its_spread(seed: int) -> None:
    policy = RetryPolicy(backoff="fixed", base=10, jitter=0.2)
    assert 8_000 <= delay_ms(policy, 1, random.Random(seed), **DEFAULTS) <= 12_000


def test_delay_ms_jitter_zero_is_exact_whatever_the_settings() -> None:
    policy = RetryPolicy(backoff="fixed", base=3, jitter=0)
    defaults = {**DEFAULTS, "default_jitter": 0.5}
    assert {delay_ms(policy, 1, random.Random(s), **defaults) for s in range(10)} == {3_000}


@pytest.mark.parametrize(
    ("policy", "error", "retried"),
    [
        (None, ValueError("x"), True),
        (RetryPolicy(), ValueError("x"), True),
        (RetryPolicy(retry_on=(ConnectionError,)), Flaky("x"), True),
        (RetryPolicy(retry_on=(ConnectionError,)), ValueError("x"), False),
        (RetryPolicy(retry_on=("ConnectionError",)), Flaky("x"), True),  # a builtin by name
        (RetryPolicy(no_retry_on=(ValueError,)), ValueError("x"), False),
        (RetryPolicy(no_retry_on=(ValueError,)), KeyError("x"), True),
        (RetryPolicy(no_retry_on=(LookupError,)), KeyError("x"), False),  # a subclass
        (RetryPolicy(no_retry_on=(f"{__name__}.Flaky",)), Flaky("x"), False),
        (RetryPolicy(retry_on=(OSError,), no_retry_on=(Flaky,)), Flaky("x"), False),
        (RetryPolicy(retry_on=(OSError,), no_retry_on=(Flaky,)), TimeoutError("x"), True),
    ],
)
def test_should_retry_matches_classes_and_subclasses(
    policy: RetryPolicy | None, error: BaseException, retried: bool
) -> None:
    assert should_retry(policy, error) is retried


def test_policy_round_trips_through_json_with_types_as_names() -> None:
    policy = RetryPolicy(
        backoff="linear", base=timedelta(seconds=2), cap=30, jitter=0.1,
        retry_on=(ConnectionError, "app.errors.Busy"), no_retry_on=(PermanentError,),
    )  # fmt: skip
    text = policy_to_json(policy)
    back = policy_from_json(text)
    assert back is not None
    assert (back.backoff, back.base_secs, back.cap_secs, back.jitter) == ("linear", 2.0, 30, 0.1)
    assert set(back.retry_on) == {"ConnectionError", "app.errors.Busy"}
    assert back.no_retry_on == ("jobs_core.errors.PermanentError",)
    assert should_retry(back, Flaky("x")) and not should_retry(back, ValueError("x"))
    assert policy_to_json(None) is None and policy_from_json(None) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"backoff": "quadratic"}, "retry.backoff must be one of exponential, linear, fixed"),
        ({"base": -1}, "retry.base must be seconds (>= 0) or a timedelta, got -1"),
        ({"cap": "5s"}, "retry.cap must be seconds (>= 0) or a timedelta, got '5s'"),
        ({"base": True}, "retry.base must be seconds"),
        ({"jitter": 1.5}, "retry.jitter must be a fraction from 0 to 1, got 1.5"),
        ({"retry_on": ValueError}, "retry.retry_on must be a tuple of exception types"),
        ({"no_retry_on": (int,)}, "retry.no_retry_on: <class 'int'> is neither an exception"),
        ({"retry_on": ("",)}, "retry.retry_on: '' is neither an exception class nor a class"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field(fields: dict[str, object], message: str) -> None:
    pattern = "^" + message.replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(InvalidOptionError, match=pattern):
        RetryPolicy(**fields)  # type: ignore[arg-type]
