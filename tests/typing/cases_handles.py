"""Typing cases for command handles, checked by mypy in tests/typing/test_typing.py.

A line ending in `# E: code` must get exactly that mypy error; every other line must
type-check. `assert_type` lines prove what the checker infers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, assert_type

from jobs_core import BackgroundJobs, JobContext, JobHandle, JobHandles, JobRef, JobRefs

jobs = BackgroundJobs("typing_cases_never_opened", start_engine=False)


@dataclass
class SendEmail:
    to: str


@jobs.command(worker="smtp", retry_limit=3)
async def send_email(req: SendEmail, ctx: JobContext) -> str:
    return req.to


@jobs.command
def resize(req: dict[str, int]) -> int:
    return len(req)


@jobs.command("tick")
async def tick(ctx: JobContext) -> None:
    return None


@jobs.command(name="ping")
def ping() -> bool:
    return True


async def cases() -> None:
    ctx: JobContext = ...  # type: ignore[assignment]
    # The handle stays the handler: same parameters, same result.
    assert_type(await send_email(SendEmail("a"), ctx), str)
    assert_type(resize({"a": 1}), int)
    await send_email(SendEmail("a"))  # E: call-arg
    resize("x")  # E: arg-type

    # enqueue: the request type is checked, the result type is carried to wait().
    handle = await send_email.enqueue(SendEmail("a"), tag="mail", run_after=None)
    assert_type(handle, JobHandle[str])
    assert_type(await handle.wait(timeout=5), str)
    ref: JobRef = handle  # a JobHandle is a JobRef
    assert_type(await jobs.wait(handle), str)
    assert_type(await jobs.wait(ref), Any)
    await send_email.enqueue({"to": "a"})  # E: arg-type
    await send_email.enqueue(SendEmail("a"), tagg="mail")  # E: call-arg
    await send_email.enqueue(SendEmail("a"), retry_limit="3")  # E: arg-type
    await resize.enqueue({"a": "b"})  # E: dict-item

    # Commands without a request enqueue with none.
    assert_type(await tick.enqueue(), JobHandle[None])
    assert_type(await ping.enqueue(), JobHandle[bool])
    await tick.enqueue(SendEmail("a"))  # E: call-overload

    # Many, transient runs, and typed items for jobs.enqueue_many.
    assert_type(await send_email.enqueue_many([SendEmail("a")], tag="t"), JobHandles[str])
    assert_type((await send_email.enqueue_many([SendEmail("a")]))[0], JobHandle[str])
    assert_type(await jobs.enqueue_each("send_email", [SendEmail("a")]), JobRefs)
    await send_email.enqueue_many([1, 2])  # E: list-item
    assert_type(await send_email.run(SendEmail("a"), timeout=1.0), str)
    await send_email.run(SendEmail("a"), tag="x")  # E: call-arg
    await jobs.enqueue_many(
        [send_email.enqueue_request(SendEmail("a")), resize.enqueue_request({})]
    )

    # By name keeps working, with the same typed options.
    assert_type(await jobs.enqueue("send_email", {"to": "a"}, tag="mail"), JobRef)
    await jobs.enqueue("send_email", {"to": "a"}, tagg="mail")  # E: call-arg


def sync_cases() -> None:
    handle = jobs.sync.enqueue(send_email, SendEmail("a"), tag="mail")
    assert_type(handle, JobHandle[str])
    assert_type(jobs.sync.wait(handle, timeout=1), str)
    assert_type(jobs.sync.enqueue("resize", {"a": 1}), JobRef)
    jobs.sync.enqueue(send_email, {"to": "a"})  # E: misc
    jobs.sync.enqueue(resize, {"a": 1}, tagg="x")  # E: call-overload
