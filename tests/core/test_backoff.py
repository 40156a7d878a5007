"""Backoff: pauses that double up to a cap, and one log line per trouble per interval."""

from __future__ import annotations

import logging

import pytest

from jobs_core.backoff import Backoff


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_to_its_cap_and_resets_after_a_success() -> None:
    clock = Clock()
    backoff = Backoff("x", logging.getLogger("t"), first_secs=0.5, max_secs=3.0, clock=clock)
    assert backoff.due()
    assert [backoff.failed("full") for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert not backoff.due() and backoff.last_error == "full"
    clock.now += 3.0
    assert backoff.due()
    backoff.succeeded()
    assert (backoff.failures, backoff.last_error, backoff.failed("again")) == (0, None, 0.5)


def test_backoff_logs_once_then_once_per_interval_then_the_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    backoff = Backoff("writing jobs.db", logging.getLogger("t"), log_every_secs=60, clock=clock)
    for _ in range(100):  # a hundred failures within a minute
        backoff.failed("disk is full")
        clock.now += 0.5
    clock.now += 10
    backoff.failed("disk is full")  # over a minute since the first line
    backoff.succeeded()
    backoff.succeeded()  # nothing to say once things work
    assert [r.getMessage() for r in caplog.records] == [
        "writing jobs.db failed: disk is full (retrying)",
        "writing jobs.db still failing after 101 tries in 60s: disk is full (retrying every 5s)",
        "writing jobs.db works again after 101 failed tries in 60.0s",
    ]
