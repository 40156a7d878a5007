"""Enqueue: options stored, request types, and bad input refused with a clear error."""

from __future__ import annotations

import socket
from dataclasses import dataclass, replace
from datetime import timedelta

import pydantic
import pytest

from jobs_core import (
    DuplicateRefIdError,
    EnqueueRequest,
    InvalidOptionError,
    InvalidReplyToError,
    JobContext,
    JobNotFoundError,
    JobState,
    ManualClock,
    UnknownCommandError,
    UnserialisableRequestError,
)
from tests.conftest import MakeJobs


@dataclass
class SendEmail:
    to: str
    subject: str


class Order(pydantic.BaseModel):
    id: int
    total: float


async def noop(req: object, ctx: JobContext) -> None:
    return None


async def test_enqueue_stores_every_option(make_jobs: MakeJobs, clock: ManualClock) -> None:
    jobs = make_jobs(clock=clock)
    jobs.command(noop)
    parent = await jobs.enqueue("noop")
    ref = await jobs.enqueue(
        "noop", SendEmail(to="a@b.c", subject="hi"), worker="smtp",
        run_after=timedelta(minutes=5), retry_limit=4, timeout=30, ref_id="r-1", tag="mail",
        created_by="ann", batch_id="b1", args={"k": "v"}, parent_id=parent.id,
        depends_on=parent.id, callback="noop", user_id="u7",
        reply_to="token@https://example.com/hook",
    )  # fmt: skip
    job = (await jobs.get_job(ref.id)).job
    assert job is not None
    assert (job.command, job.worker, job.retry_limit, job.timeout_secs) == ("noop", "smtp", 4, 30)
    assert job.request_type == "tests.contract.test_enqueue.SendEmail"
    assert job.request_body == '{"to":"a@b.c","subject":"hi"}'
    assert job.run_after == clock.now_ms() + 300_000
    assert (job.ref_id, job.tag, job.created_by, job.batch_id) == ("r-1", "mail", "ann", "b1")
    assert (job.parent_id, job.depends_on, job.callback, job.user_id) == (1, 1, "noop", "u7")
    assert job.args == {"k": "v"}
    assert job.state is JobState.QUEUED
    by_ref = await jobs.get_job_by_ref("r-1")
    assert by_ref.summary.id == ref.id and by_ref.summary.tag == "mail"


async def test_enqueue_uses_engine_and_command_defaults(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    jobs.command(noop)
    jobs.command("mail", worker="smtp", retry_limit=5, timeout=12)(noop)
    plain = (await jobs.get_job((await jobs.enqueue("noop")).id)).job
    mail = (await jobs.get_job((await jobs.enqueue("mail")).id)).job
    assert plain is not None and mail is not None
    assert (plain.worker, plain.retry_limit, plain.timeout_secs) == ("", 2, 600)
    assert (mail.worker, mail.retry_limit, mail.timeout_secs) == ("smtp", 5, 12)


async def test_enqueue_accepts_pydantic_and_dict_requests(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    jobs.command(noop)
    order = (await jobs.get_job((await jobs.enqueue("noop", Order(id=3, total=9.5))).id)).job
    plain = (await jobs.get_job((await jobs.enqueue("noop", {"a": [1, 2]})).id)).job
    assert order is not None and plain is not None
    assert (order.request_type, order.request_body) == (
        "tests.contract.test_enqueue.Order",
        '{"id":3,"total":9.5}',
    )
    assert (plain.request_type, plain.request_body) == ("dict", '{"a":[1,2]}')


async def test_enqueue_refuses_unknown_command(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    jobs.command(noop)
    with pytest.raises(
        UnknownCommandError,
        match=r"no command named 'nope' is registered here or declared by an engine in the "
        r"store \(known: noop\)",
    ):
        await jobs.enqueue("nope")
    assert (await jobs.counts())[JobState.QUEUED] == 0


async def test_enqueue_refuses_unserialisable_request(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    jobs.command(noop)
    with (
        socket.socket() as sock,
        pytest.raises(
            UnserialisableRequestError,
            match=r"the request of command 'noop' cannot be stored as JSON: "
            r"field 'conn' is a socket, which JSON cannot represent",
        ),
    ):
        await jobs.enqueue("noop", {"conn": sock})
    with pytest.raises(UnserialisableRequestError, match=r"field 'tags' is a set"):
        await jobs.enqueue("noop", {"tags": {"a"}})
    with pytest.raises(UnserialisableRequestError, match=r"NaN"):
        await jobs.enqueue("noop", {"x": float("nan")})
    assert (await jobs.counts())[JobState.QUEUED] == 0


async def test_enqueue_refuses_duplicate_ref_id(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    jobs.command(noop)
    first = await jobs.enqueue("noop", ref_id="order-42")
    with pytest.raises(
        DuplicateRefIdError, match=f"ref_id 'order-42' is already used by job {first.id}"
    ):
        await jobs.enqueue("noop", ref_id="order-42")
    with pytest.raises(DuplicateRefIdError, match="ref_id 'x' is given to two jobs in one enqueue"):
        await jobs.enqueue_many([EnqueueRequest(command="noop", ref_id="x")] * 2)


async def test_enqueue_refuses_bad_options(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    jobs.command(noop)
    with pytest.raises(InvalidOptionError, match="retry_limit must be >= 0, got -1"):
        await jobs.enqueue("noop", retry_limit=-1)
    with pytest.raises(InvalidOptionError, match="timeout must be > 0 seconds, got 0"):
        await jobs.enqueue("noop", timeout=0)
    with pytest.raises(UnknownCommandError, match="no command named 'later'"):
        await jobs.enqueue("noop", callback="later")
    with pytest.raises(JobNotFoundError, match="depends_on: there is no job 99"):
        await jobs.enqueue("noop", depends_on=99)
    with pytest.raises(InvalidReplyToError):
        await jobs.enqueue("noop", reply_to="ftp://example.com")
    with pytest.raises(InvalidOptionError, match="args must map strings to strings"):
        await jobs.enqueue("noop", args={"n": 1})  # type: ignore[dict-item]


async def test_enqueue_many_is_all_or_nothing(make_jobs: MakeJobs) -> None:
    jobs = make_jobs()
    jobs.command(noop)
    await jobs.enqueue("noop", ref_id="taken")
    batch = [EnqueueRequest(command="noop", request={"i": i}) for i in range(10)]
    with pytest.raises(DuplicateRefIdError):
        await jobs.enqueue_many([*batch, EnqueueRequest(command="noop", ref_id="taken")])
    assert (await jobs.counts())[JobState.QUEUED] == 1
    refs = await jobs.enqueue_many(batch)
    assert [r.id for r in refs] == list(range(2, 12))
    assert (await jobs.counts())[JobState.QUEUED] == 11


async def test_enqueue_of_one_plain_job_stores_what_a_batch_stores(
    make_jobs: MakeJobs, clock: ManualClock
) -> None:
    """A lone job with no option has its own short path (on SQLite its own two-statement
    insert); its row and summary are those the batch insert stores."""
    jobs = make_jobs(clock=clock)
    jobs.command(noop)
    jobs.command("mail", worker="smtp", retry_limit=5, timeout=12)(noop)
    for command in ("noop", "mail"):
        one = await jobs.enqueue(command, {"a": 1})
        batch = await jobs.enqueue_many([EnqueueRequest(command=command, request={"a": 1})] * 2)
        found = [await jobs.get_job(ref.id) for ref in (one, *batch)]
        jobs_ = [replace(f.job, id=0) for f in found if f.job is not None]
        summaries = [replace(f.summary, id=0) for f in found]
        assert len(jobs_) == 3 and jobs_[0] == jobs_[1] == jobs_[2]
        assert summaries[0] == summaries[1] == summaries[2]
        assert (jobs_[0].command, jobs_[0].state, summaries[0].state) == (
            command, JobState.QUEUED, JobState.QUEUED,
        )  # fmt: skip
        assert [one.id, *(r.id for r in batch)] == list(range(one.id, one.id + 3))
