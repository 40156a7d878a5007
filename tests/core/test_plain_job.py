"""`JobBuilder.plain_job`: the short path of an enqueue that sets no option builds exactly the
job the general path (`new_job` resolving every option) builds, and leaves to it what it
does not handle; `routed_job` the same for a request that sets only queue, priority or key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from jobs_core import EnqueueRequest, InvalidOptionError, InvalidRequestError, Settings
from jobs_core.enqueuing import JobBuilder, Spec
from jobs_core.records import CommandDefinition
from jobs_core.registry import CommandRegistry, FlowOptions
from jobs_core.request_shape import describe

NOW = 1_764_000_000_000


@dataclass
class Mail:
    to: str


@dataclass
class Owner:
    registry: CommandRegistry
    settings: Settings
    store: Any = None


async def mail(req: Mail) -> None:
    return None


async def anything(req: Any) -> None:
    return None


def builder() -> JobBuilder:
    registry = CommandRegistry()
    registry.add(anything)
    registry.add(mail, name="smtp_mail", worker="smtp", retry_limit=5, timeout=12)
    registry.add(anything, name="queued", flow=FlowOptions(queue="slow"))
    jobs = JobBuilder(Owner(registry, Settings(default_retry_limit=7)))
    declared = CommandDefinition(name="elsewhere", retry_limit=1, shape=describe(Mail))
    jobs._declared = {"elsewhere": declared}  # as read from the store
    jobs._declared_in = None
    return jobs


@pytest.mark.parametrize(
    ("command", "request_"),
    [
        ("anything", {"i": 1}),
        ("anything", None),
        ("anything", [1, "two"]),
        ("smtp_mail", Mail(to="a@b.c")),
        ("smtp_mail", {"to": "a@b.c"}),
        ("elsewhere", {"to": "a@b.c"}),
    ],
)
def test_plain_job_builds_what_new_job_builds(command: str, request_: Any) -> None:
    jobs = builder()
    spec: Spec = jobs.registry.find(command) or jobs._declared[command]
    general = jobs.new_job(EnqueueRequest(command=command, request=request_), NOW, spec=spec)
    assert jobs.plain_job(command, request_, NOW) == general
    assert jobs.new_job(EnqueueRequest(command=command, request=request_), NOW) == general


def test_plain_job_leaves_flow_options_and_bad_names_to_new_job() -> None:
    jobs = builder()
    assert jobs.plain_job("queued", {"i": 1}, NOW) is None
    assert jobs.new_job(EnqueueRequest(command="queued", request={}), NOW).queue == "slow"
    assert jobs.plain_job(42, {}, NOW) is None  # type: ignore[arg-type]
    assert jobs.plain_job("", {}, NOW) is None


def test_plain_job_checks_the_request_against_the_command() -> None:
    jobs = builder()
    with pytest.raises(InvalidRequestError, match="smtp_mail"):
        jobs.plain_job("smtp_mail", {"from": "x"}, NOW)
    with pytest.raises(InvalidRequestError, match="elsewhere"):
        jobs.plain_job("elsewhere", {"to": 3}, NOW)


class NoTruth:
    """An option value whose `==` gives something without a truth value (as an array's)."""

    def __eq__(self, other: object) -> bool:
        raise ValueError("the truth value is ambiguous")

    __hash__ = None  # type: ignore[assignment]


def test_new_job_takes_the_general_path_for_any_option_set() -> None:
    jobs = builder()
    tagged = jobs.new_job(EnqueueRequest(command="anything", request={}, tag="t"), NOW)
    assert tagged.tag == "t"
    with pytest.raises(InvalidOptionError, match="tag"):  # checked, not compared away
        jobs.new_job(EnqueueRequest(command="anything", tag=NoTruth()), NOW)  # type: ignore[arg-type]


def routing_builder() -> JobBuilder:
    jobs = builder()
    jobs.registry.add(anything, name="limited", flow=FlowOptions(concurrency_limit=3))
    return jobs


@pytest.mark.parametrize(
    ("command", "routing"),
    [
        ("anything", {"queue": "mail"}),
        ("anything", {"priority": 3}),
        ("anything", {"priority": -2, "queue": "default"}),
        ("anything", {"concurrency_key": "user:1"}),
        ("anything", {"queue": "mail", "priority": 1, "concurrency_key": "user:1"}),
        ("limited", {"concurrency_key": "user:1"}),
        ("limited", {"queue": "billing"}),
        ("elsewhere", {"queue": "mail", "concurrency_key": "k"}),
    ],
)
def test_routed_job_builds_what_new_job_builds(command: str, routing: dict[str, Any]) -> None:
    """A request setting only queue, priority or key takes the short path (`routed_job`)
    to the job the general path builds: queue, priority, key and the command's limit."""
    jobs = routing_builder()
    spec: Spec = jobs.registry.find(command) or jobs._declared[command]
    request = EnqueueRequest(command=command, request={"to": "a@b.c"}, **routing)
    general = jobs.new_job(request, NOW, spec=spec)
    assert jobs.routed_job(request, NOW) == general
    assert jobs.new_job(request, NOW) == general
    if "concurrency_key" in routing:
        assert general.concurrency_limit == (3 if command == "limited" else 1)


def test_routed_job_leaves_flow_commands_workers_and_bad_values_to_new_job() -> None:
    jobs = routing_builder()
    routed = EnqueueRequest(command="queued", request={}, priority=2)
    assert jobs.routed_job(routed, NOW) is None
    assert jobs.new_job(routed, NOW).queue == "slow"  # the command's queue
    to_worker = EnqueueRequest(command="smtp_mail", request=Mail(to="x"), priority=1)
    assert jobs.routed_job(to_worker, NOW) is None
    assert jobs.new_job(to_worker, NOW).queue == "smtp"
    with pytest.raises(InvalidOptionError, match="queue 'mail': command 'smtp_mail'"):
        jobs.new_job(EnqueueRequest(command="smtp_mail", request=Mail(to="x"), queue="mail"), NOW)
    bad: list[dict[str, Any]] = [
        {"queue": " mail"},
        {"priority": True},
        {"priority": 10**7},
        {"concurrency_key": ""},
        {"concurrency_key": 5},
        {"concurrency_key": " ", "queue": ""},  # the key named first
    ]
    for options in bad:
        request = EnqueueRequest(command="anything", request={}, **options)
        assert jobs.routed_job(request, NOW) is None
        with pytest.raises(InvalidOptionError, match=next(iter(options))):
            jobs.new_job(request, NOW)


def test_routed_job_checks_the_request_against_the_command() -> None:
    jobs = routing_builder()
    with pytest.raises(InvalidRequestError, match="elsewhere"):
        jobs.routed_job(EnqueueRequest(command="elsewhere", request={"to": 3}, queue="q"), NOW)


BATCH = [
    EnqueueRequest(command="anything", request={"i": 1}),
    EnqueueRequest(command="smtp_mail", request=Mail(to="a@b.c")),
    EnqueueRequest(command="anything", request=None, queue="mail", priority=2),
    EnqueueRequest(command="limited", request={}, concurrency_key="user:1"),
    EnqueueRequest(command="limited", request={}, queue="billing"),
    EnqueueRequest(command="queued", request={}, priority=1),  # the command's own queue
    EnqueueRequest(command="smtp_mail", request=Mail(to="x"), priority=1),  # a worker's
    EnqueueRequest(command="elsewhere", request={"to": "a@b.c"}, concurrency_key="k"),
    EnqueueRequest(command="anything", request={"i": 2}, tag="t", priority=1),
    EnqueueRequest(command="anything", request=[1, "two"]),
]
"""A batch whose requests take every way through `JobBuilder._jobs`: the command's
defaults once a batch (plain and routed), and `new_job` for the others."""


async def test_a_batch_builds_what_new_job_builds_request_by_request() -> None:
    jobs = routing_builder()
    built = await jobs.build(BATCH, NOW)
    assert built == [jobs.new_job(r, NOW) for r in BATCH]
    assert [j.queue for j in built[5:7]] == ["slow", "smtp"]


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (EnqueueRequest(command="anything", queue=" mail"), InvalidOptionError, "queue"),
        (EnqueueRequest(command="anything", concurrency_key=""), InvalidOptionError, "key"),
        (EnqueueRequest(command="elsewhere", request={"to": 3}), InvalidRequestError, "elsewhere"),
        (EnqueueRequest(command="limited", request={}, priority=True), InvalidOptionError, "prio"),
    ],
)
async def test_a_batch_refuses_a_bad_request_as_new_job_does(
    bad: EnqueueRequest, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        await routing_builder().build([*BATCH, bad], NOW)
