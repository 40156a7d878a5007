"""Errors no retry can fix fail the job at once with the reason: PermanentError from handlers,
configuration errors, requests of the wrong shape, a user_id without a resolver, an unset
`$VARIABLE` in reply_to, a result that cannot be stored."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import pydantic
import pytest

from jobs_core import (
    JobContext,
    JobResult,
    JobState,
    JobsWarning,
    ManualClock,
    PermanentError,
)
from tests.conftest import MakeJobs

RETRIES = 3
"""Every job here could be retried three times: one attempt shows none was made."""


async def run_one(jobs: object, command: str, **options: object) -> JobResult:
    from jobs_core import BackgroundJobs

    assert isinstance(jobs, BackgroundJobs)
    async with jobs:
        ref = await jobs.enqueue(command, retry_limit=RETRIES, **options)  # type: ignore[arg-type]
        await jobs.run_until_idle()
        return await jobs.get_job(ref.id)


def assert_failed_at_once(result: JobResult, code: str, message: str) -> None:
    assert result.state is JobState.FAILED
    assert result.summary.attempts == 1
    assert (result.summary.error_code, result.summary.error_message) == (code, message)


class CardDeclined(PermanentError):
    pass


@pytest.mark.parametrize(
    ("error", "code"),
    [(PermanentError("account closed", code="AccountClosed"), "AccountClosed"),
     (CardDeclined("card declined"), "CardDeclined")],
)  # fmt: skip
async def test_permanent_error_from_a_handler_is_not_retried(
    make_jobs: MakeJobs, clock: ManualClock, error: PermanentError, code: str
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def charge(ctx: JobContext) -> None:
        raise error

    assert_failed_at_once(await run_one(jobs, "charge"), code, str(error))


@dataclass
class SendEmail:
    to: str
    subject: str


@dataclass
class Other:
    recipient: str


async def test_request_of_the_wrong_shape_fails_at_once_naming_the_fields(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def send(req: SendEmail) -> None:
        raise AssertionError("must not run")

    result = await run_one(jobs, "send", request=Other(recipient="a@b.c"))
    assert_failed_at_once(
        result, "InvalidRequest",
        "the request of job 1 (command 'send') does not fit SendEmail: recipient: unknown "
        "field; to: missing (required); subject: missing (required)",
    )  # fmt: skip
    assert result.job is not None and result.job.error is not None
    assert result.job.error.field_errors == {
        "recipient": "unknown field",
        "to": "missing (required)",
        "subject": "missing (required)",
    }


async def test_user_id_without_a_resolver_fails_with_a_clear_code(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def whoami(ctx: JobContext) -> None:
        raise AssertionError("must not run as a user nobody resolved")

    assert_failed_at_once(
        await run_one(jobs, "whoami", user_id="u1"), "NoUserResolver",
        "the job runs as user 'u1' but this engine has no user resolver: register one with "
        "@jobs.user_resolver",
    )  # fmt: skip


async def test_unserialisable_result_is_a_result_error(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def connect(ctx: JobContext) -> dict[str, object]:
        return {"conn": sock}

    with socket.socket() as sock:
        result = await run_one(jobs, "connect")
    assert_failed_at_once(
        result, "UnserialisableResultError",
        "the result of command 'connect' (job 1), a dict, cannot be stored as JSON: field "
        "'conn' is a socket, which JSON cannot represent",
    )  # fmt: skip


async def test_reply_to_with_an_unset_variable_warns_then_fails_its_delivery_at_once(
    make_jobs: MakeJobs, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOBS_TEST_HOOK_TOKEN", raising=False)
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def check(ctx: JobContext) -> str:
        return "ok"

    target = "$JOBS_TEST_HOOK_TOKEN@http://127.0.0.1:9/hook"
    async with jobs:
        with pytest.warns(
            JobsWarning,
            match=r"reply_to uses \$JOBS_TEST_HOOK_TOKEN, which is "
            r"not set in this process; it is read where the reply is delivered",
        ):
            ref = await jobs.enqueue("check", reply_to=target, retry_limit=RETRIES)
        await jobs.run_until_idle()
        job = await jobs.get_job(ref.id)
        delivery = await jobs.get_job(ref.id + 1)
    assert delivery.summary.command == "jobs.reply_to"
    assert_failed_at_once(
        delivery, "InvalidReplyToError",
        "invalid reply_to '$JOBS_TEST_HOOK_TOKEN@http://127.0.0.1:9/hook': environment "
        "variable JOBS_TEST_HOOK_TOKEN (the bearer token) is not set",
    )  # fmt: skip
    assert job.state is JobState.COMPLETED  # the job ran; only its reply was not delivered
    assert job.completed is not None and "[reply_to] result not delivered" in job.completed.logs


async def test_reply_to_variable_set_at_enqueue_gives_no_warning(
    make_jobs: MakeJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBS_TEST_HOOK_TOKEN", "s3cr3t")
    jobs = make_jobs()

    @jobs.command
    async def check(ctx: JobContext) -> str:
        return "ok"

    # filterwarnings = error: any warning here fails the test
    await jobs.enqueue("check", reply_to="u:$JOBS_TEST_HOOK_TOKEN@https://example.com/h")


class Order(pydantic.BaseModel):
    id: int
    total: float


async def test_pydantic_request_of_the_wrong_shape_fails_at_once_with_field_errors(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    jobs = make_jobs(clock=clock, start_engine=False)

    @jobs.command
    async def bill(req: Order) -> None:
        raise AssertionError("must not run")

    # an instance of another type is not checked at enqueue: the engine refuses it
    result = await run_one(jobs, "bill", request=Other(recipient="x"))
    assert result.state is JobState.FAILED and result.summary.attempts == 1
    assert result.summary.error_code == "InvalidRequest"
    assert (result.summary.error_message or "").startswith(
        "the request of job 1 (command 'bill') does not fit Order: 2 validation errors"
    )
    assert result.job is not None and result.job.error is not None
    assert result.job.error.field_errors == {"id": "Field required", "total": "Field required"}
