"""Commands declared in the store: engines write their commands' definitions when they start,
and a process without the handlers enqueues by name with the same defaults and checks."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from jobs_core import (
    BackgroundJobs,
    CommandDefinition,
    InvalidOptionError,
    InvalidRequestError,
    JobContext,
    JobState,
    RequestShape,
    UnknownCommandError,
)
from tests.conftest import MakeJobs


@dataclass
class SendEmail:
    to: str
    subject: str
    cc: list[str] | None = None


def engine_app(make_jobs: MakeJobs, *, worker: str = "smtp") -> BackgroundJobs:
    jobs = make_jobs()

    @jobs.command(worker=worker, retry_limit=5, timeout=120)
    async def send_email(req: SendEmail, ctx: JobContext) -> None:
        return None

    @jobs.command
    async def ping() -> None:
        return None

    return jobs


SEND_EMAIL_SHAPE = RequestShape(
    type_name="tests.contract.test_declared_commands.SendEmail",
    required={"to": "string", "subject": "string"},
    optional={"cc": "array|null"},
)


async def test_engine_declares_its_commands_when_it_starts(make_jobs: MakeJobs) -> None:
    engine = engine_app(make_jobs)
    web = make_jobs(start_engine=False)  # another process: no handlers
    assert await web.declared_commands() == []
    async with engine:
        declared = {d.name: d for d in await web.declared_commands()}
        engine_id = engine.engine.id
    assert sorted(declared) == ["ping", "send_email"]  # built-ins are not declared
    send = declared["send_email"]
    assert send == CommandDefinition(
        name="send_email", worker="smtp", retry_limit=5, timeout_secs=120,
        request_type="tests.contract.test_declared_commands.SendEmail", shape=SEND_EMAIL_SHAPE,
        declared_by=engine_id, declared_at=send.declared_at,
    )  # fmt: skip
    assert declared["ping"].shape is None and declared["ping"].worker == ""


async def test_enqueue_by_name_applies_the_declared_definition(make_jobs: MakeJobs) -> None:
    async with engine_app(make_jobs):
        pass
    web = make_jobs(start_engine=False)
    ref = await web.enqueue("send_email", {"to": "a@b.c", "subject": "hi"})
    job = (await web.get_job(ref.id)).job
    assert job is not None
    assert (job.worker, job.retry_limit, job.timeout_secs) == ("smtp", 5, 120)
    with pytest.raises(InvalidOptionError, match="declared worker 'smtp'"):
        await web.enqueue("send_email", {"to": "a@b.c", "subject": "hi"}, worker="other")
    with pytest.raises(
        InvalidRequestError,
        match=r"the request of command 'send_email' does not fit "
        r"tests.contract.test_declared_commands.SendEmail: subject: missing \(required\); "
        r"to: expected string, got integer; bcc: unknown field",
    ) as refused:
        await web.enqueue("send_email", {"to": 1, "bcc": "x"})
    assert refused.value.field_errors == {
        "subject": "missing (required)",
        "to": "expected string, got integer",
        "bcc": "unknown field",
    }
    assert (await web.counts())[JobState.QUEUED] == 1


async def test_declarations_are_cached_and_read_again_on_a_miss(make_jobs: MakeJobs) -> None:
    async with engine_app(make_jobs):
        pass
    web = make_jobs(start_engine=False)
    reads = 0
    read = web.store.declared_commands

    async def counting() -> list[CommandDefinition]:
        nonlocal reads
        reads += 1
        return await read()

    web.store.declared_commands = counting  # type: ignore[method-assign]
    for _ in range(5):
        await web.enqueue("ping")
    assert reads == 1  # no store read per enqueue once cached
    with pytest.raises(UnknownCommandError, match="no command named 'later'"):
        await web.enqueue("later")
    assert reads == 2
    late = make_jobs()
    late.command(name="later")(lambda: None)
    async with late:
        pass
    await web.enqueue("later")  # declared since: the miss reads the store again
    assert reads == 3


async def test_newest_declaration_wins(make_jobs: MakeJobs) -> None:
    async with engine_app(make_jobs, worker="smtp"):
        pass
    async with engine_app(make_jobs, worker="smtp2") as newer:
        old = await newer.store.declared_commands()
    web = make_jobs(start_engine=False)
    assert (await web.declared_command("send_email")).worker == "smtp2"  # type: ignore[union-attr]
    stale = [CommandDefinition(name="send_email", worker="stale", declared_by="x",
                               declared_at=old[0].declared_at - 1)]  # fmt: skip
    await web.store.declare_commands(stale)
    assert (await web.declared_command("send_email")).worker == "smtp2"  # type: ignore[union-attr]
    assert await web.declared_command("nope") is None


async def test_undeclared_command_is_enqueued_only_when_allowed(make_jobs: MakeJobs) -> None:
    web = make_jobs(start_engine=False)
    from jobs_core import EnqueueRequest

    request = EnqueueRequest(command="elsewhere", request={"any": "thing"}, callback="later")
    with pytest.raises(UnknownCommandError, match="no command named 'elsewhere'"):
        await web.enqueue_many([request])
    (ref,) = await web.enqueue_many([request], allow_undeclared=True)
    job = (await web.get_job(ref.id)).job
    assert job is not None and (job.worker, job.retry_limit, job.timeout_secs) == ("", 2, 600)


async def test_dict_request_for_a_local_dataclass_command_is_checked(make_jobs: MakeJobs) -> None:
    jobs = engine_app(make_jobs)
    with pytest.raises(InvalidRequestError, match=r"subject: missing \(required\)"):
        await jobs.enqueue("send_email", {"to": "a@b.c"})
    with pytest.raises(InvalidRequestError, match=r"must be a JSON object .* got array"):
        await jobs.enqueue("send_email", ["a@b.c"])
    with pytest.raises(InvalidRequestError, match=r"to: missing \(required\)"):
        await jobs.enqueue("send_email")
    ok = await jobs.enqueue("send_email", SendEmail(to="a@b.c", subject="hi"))
    assert ok.id == 1 and (await jobs.counts())[JobState.QUEUED] == 1
