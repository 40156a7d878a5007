"""The order of the engine's work in one pass of its dispatch loop: what it claims starts
before anything else the pass does (the named workers' claim, the upkeep), so the time from
enqueue to start holds no statement that does not concern the job."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import MakeJobs


async def test_claimed_job_starts_before_the_named_workers_claim(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = make_jobs(start_engine=False)
    events: list[str] = []

    @jobs.command
    async def note() -> None:
        events.append("started")

    async with jobs:
        store = jobs.store
        claim = store.claim

        async def recorded(**kwargs: Any) -> Any:
            found = await claim(**kwargs)
            events.append(f"{'named' if kwargs['named'] else 'default'} claim: {len(found)}")
            return found

        monkeypatch.setattr(store, "claim", recorded)
        await jobs.enqueue("note")
        await jobs.run_until_idle()
    # The default worker's claim took the job; it started before the named workers' claim.
    assert events[:3] == ["default claim: 1", "started", "named claim: 0"], events
