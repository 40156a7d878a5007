"""The group-commit mechanism on its own, with a writer that records the groups it gets:
who shares a transaction, who waits, what errors and cancellations do."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from jobs_core.store.group_commit import GroupCommitter, Outcome, Pending
from jobs_core.store.protocol import NewJob


def new_job(n: int) -> NewJob:
    return NewJob(
        command="c", request_type="dict", request_body=f'{{"n": {n}}}', worker="",
        run_after=0, retry_limit=0, timeout_secs=1.0,
    )  # fmt: skip


class Recorder:
    """A store's group writer: numbers jobs in order, records each group's callers, refuses
    callers whose first job is in `refused`, and can hold async writes at a gate."""

    def __init__(self, *, now_works: bool = True) -> None:
        self.groups: list[list[list[NewJob]]] = []
        self.now_works = now_works
        self.gate: asyncio.Event | None = None
        self.refused: set[str] = set()
        self.fail_next: Exception | None = None
        self.next_id = 1

    def write_now(self, group: Sequence[Pending]) -> list[Outcome] | None:
        return self.commit(group) if self.now_works else None

    async def write(self, group: Sequence[Pending]) -> list[Outcome]:
        if self.gate is not None:
            await self.gate.wait()
        return self.commit(group)

    def commit(self, group: Sequence[Pending]) -> list[Outcome]:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.groups.append([entry.jobs for entry in group])
        outcomes: list[Outcome] = []
        for entry in group:
            if entry.jobs[0].request_body in self.refused:
                outcomes.append(ValueError(f"refused {entry.jobs[0].request_body}"))
                continue
            outcomes.append(list(range(self.next_id, self.next_id + len(entry.jobs))))
            self.next_id += len(entry.jobs)
        return outcomes

    def written(self) -> list[str]:
        return [job.request_body for group in self.groups for jobs in group for job in jobs]


def committer(recorder: Recorder) -> GroupCommitter:
    return GroupCommitter(recorder.write, recorder.write_now)


def test_group_commit_lone_caller_writes_without_yielding_to_the_loop() -> None:
    """Nothing else ready: the caller's transaction runs in its own step, no loop pass."""
    recorder = Recorder()
    commit = committer(recorder)

    async def main() -> None:
        call = commit.submit([new_job(1), new_job(2)], 0)
        with pytest.raises(StopIteration) as done:
            call.send(None)  # runs to completion without suspending
        assert done.value.value == [1, 2]

    asyncio.run(main())
    assert len(recorder.groups) == 1


async def test_group_commit_callers_ready_in_one_pass_share_one_write() -> None:
    recorder = Recorder()
    commit = committer(recorder)
    results = await asyncio.gather(
        *(commit.submit([new_job(10 * i), new_job(10 * i + 1)], 0) for i in range(50))
    )
    assert len(recorder.groups) == 1
    assert len(recorder.groups[0]) == 50
    assert results == [[2 * i + 1, 2 * i + 2] for i in range(50)]  # each caller's order kept


async def test_group_commit_callers_arriving_during_a_write_share_the_next() -> None:
    recorder = Recorder(now_works=False)  # every write waits, as for a lock held elsewhere
    recorder.gate = asyncio.Event()
    commit = committer(recorder)
    first = asyncio.ensure_future(commit.submit([new_job(0)], 0))
    await asyncio.sleep(0.01)  # the first write is under way, held at the gate
    later = [asyncio.ensure_future(commit.submit([new_job(i)], 0)) for i in range(1, 21)]
    await asyncio.sleep(0.01)
    assert recorder.groups == []
    recorder.gate.set()
    assert await first == [1]
    assert [await task for task in later] == [[i] for i in range(2, 22)]
    assert [len(group) for group in recorder.groups] == [1, 20]


async def test_group_commit_a_refused_caller_does_not_fail_the_others() -> None:
    recorder = Recorder()
    recorder.refused = {'{"n": 3}'}
    commit = committer(recorder)
    results = await asyncio.gather(
        *(commit.submit([new_job(i)], 0) for i in range(6)), return_exceptions=True
    )
    assert len(recorder.groups) == 1
    assert isinstance(results[3], ValueError)
    assert [r for i, r in enumerate(results) if i != 3] == [[1], [2], [3], [4], [5]]


async def test_group_commit_a_failed_transaction_fails_its_group_only() -> None:
    recorder = Recorder()
    recorder.fail_next = OSError("disk full")
    commit = committer(recorder)
    results = await asyncio.gather(
        *(commit.submit([new_job(i)], 0) for i in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, OSError) for r in results)
    assert await commit.submit([new_job(9)], 0) == [1]  # the next group is written


async def test_group_commit_caller_cancelled_before_its_group_is_taken_stores_nothing() -> None:
    recorder = Recorder()
    commit = committer(recorder)
    tasks = [asyncio.ensure_future(commit.submit([new_job(i)], 0)) for i in range(10)]
    await asyncio.sleep(0)  # all entered: the first gathers, the others wait
    tasks[0].cancel()  # the gathering leader
    tasks[5].cancel()  # a waiting caller
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert isinstance(results[5], asyncio.CancelledError)
    written = recorder.written()
    assert '{"n": 0}' not in written and '{"n": 5}' not in written
    assert sorted(written) == sorted(f'{{"n": {i}}}' for i in range(10) if i not in (0, 5))


async def test_group_commit_caller_cancelled_after_its_group_is_taken_is_stored_once() -> None:
    recorder = Recorder(now_works=False)
    recorder.gate = asyncio.Event()
    commit = committer(recorder)
    tasks = [asyncio.ensure_future(commit.submit([new_job(i)], 0)) for i in range(5)]
    await asyncio.sleep(0.01)  # the group is taken and its write held at the gate
    tasks[0].cancel()
    tasks[3].cancel()
    await asyncio.sleep(0)
    recorder.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert isinstance(results[3], asyncio.CancelledError)
    assert sorted(recorder.written()) == [f'{{"n": {i}}}' for i in range(5)]  # each once
    assert await commit.submit([new_job(7)], 0) == [6]  # and the committer goes on
