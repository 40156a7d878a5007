"""`enqueue_each`'s jobs as columns: one command, one set of options, many requests.

The record path (`enqueue_many`) makes an `EnqueueRequest`, a `NewJob`, a row and a
`JobRef` a job, and checks every request's options again: ~7.5 µs a job of Python before
any SQL (bench/README.md, "The enqueue path, eighth pass"). Here the options are checked
and the job built once, by the record path's own `JobBuilder.build` of the first request
(so every refusal is the one `enqueue_many` gives); each request then costs its shape
check (plain JSON values, when the command declares a shape), its JSON and its type name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter
from typing import Any

from .enqueuing import CHECKED_REQUESTS, NO_OTHERS, OPTIONS, JobBuilder, Spec, others_of
from .errors import InvalidOptionError
from .flow_records import DEFAULT_QUEUE, check_priority, check_queue_name
from .options import EnqueueRequest, bad_text
from .registry import Command
from .request_shape import check_request
from .serialization import request_to_json, requests_to_json, type_name
from .store.protocol import JobColumns, NewJob, Routing


async def build_columns(
    builder: JobBuilder, command: str, requests: Sequence[Any], options: Mapping[str, Any],
    now: int,
) -> JobColumns | None:  # fmt: skip
    """The jobs of `command` for `requests`, all with `options`; None where the record path
    must build them: no request, a `command` that is not a name (its check names it), or
    a job whose fields other than its request come from its request (a concurrency key
    computed from it, the unique key of a command unique while active)."""
    if not requests or not isinstance(command, str) or not command:
        return None
    spec = await builder.spec(command)  # UnknownCommandError, as enqueue_many's
    if _per_request(spec, options):
        return None
    first = EnqueueRequest(command=command, request=requests[0], **options)
    (job,) = await builder.build([first], now)
    return _columns(spec, command, job, requests)


def _columns(spec: Spec, command: str, job: NewJob, requests: Sequence[Any]) -> JobColumns:
    """Jobs like `job` (the first request's) for `requests`, their shapes checked."""
    bodies = _bodies(spec, command, requests)
    cls = type(requests[0])
    if all(type(r) is cls for r in requests):
        types: Sequence[str] = (job.request_type,) * len(requests)
    else:
        types = [type_name(r) for r in requests]
    return JobColumns(job=job, request_types=types, request_bodies=bodies)


_options_of = attrgetter(*OPTIONS)
_NONE_SET = _options_of(EnqueueRequest(command="-"))


def plain_columns(
    builder: JobBuilder, requests: Sequence[EnqueueRequest], now: int
) -> JobColumns | None:
    """`enqueue_many`'s jobs as columns when they are jobs of one command known here (or
    in the cached declarations), without flow options of its own, and no request sets an
    option (a batch as a loop makes it); None otherwise: the record path builds them.
    What it stores is what the record path would (`plain_job` of each request)."""
    command = _one_command(requests, _options_of, _NONE_SET)
    if command is None:
        return None
    spec = builder.known_spec(command)
    if spec is None or spec.has_flow:
        return None
    job = builder.known_plain_job(command, requests[0].request, now)
    if job is None:
        return None
    return _columns(spec, command, job, [r.request for r in requests])


def _one_command(
    requests: Sequence[EnqueueRequest], options: Callable[[EnqueueRequest], Any], unset: Any
) -> str | None:
    """The command of `requests` when they are two or more of one command given by name and
    each one's `options` are `unset`; None otherwise (the record path builds them)."""
    if len(requests) < 2:
        return None
    command = requests[0].command
    if type(command) is not str:
        return None
    try:
        for r in requests:
            if r.command != command or options(r) != unset:
                return None
    except Exception:  # an option whose `==` gives no truth value: it is set
        return None
    return command


def routed_columns(
    builder: JobBuilder, requests: Sequence[EnqueueRequest], now: int
) -> JobColumns | None:
    """`plain_columns` of requests that set a queue, a priority or a concurrency key and no
    other option: each job's three in `routing` (`throughput.py`'s mixed workload: ~7 µs a
    job of records and checks on the record path, where its default-queue batch took
    `plain_columns`). None where the record path must build them: what `plain_columns`
    refuses, a command with a worker, a value of another type than str (int for a
    priority) or one that its check refuses (the record path names it)."""
    command = _one_command(requests, others_of, NO_OTHERS)
    if command is None:
        return None
    spec = builder.known_spec(command)
    if spec is None or spec.has_flow or spec.worker:
        return None
    routing = _routing(requests, spec.concurrency_limit or 1)
    if routing is None:
        return None
    job = builder.known_plain_job(command, requests[0].request, now)
    if job is None:
        return None
    columns = _columns(spec, command, job, [r.request for r in requests])
    return JobColumns(
        job=job, request_types=columns.request_types, request_bodies=columns.request_bodies,
        routing=routing,
    )  # fmt: skip


def _routing(requests: Sequence[EnqueueRequest], key_limit: int) -> Routing | None:
    """The requests' queues, priorities and keys (`NewJob`'s defaults where unset), or None
    if one is not of its plain type (str, int) or its check refuses it. Each distinct
    value is checked once: with plain types alone, values equal are equally valid."""
    queues = [r.queue for r in requests]
    priorities = [r.priority for r in requests]
    keys = [r.concurrency_key for r in requests]
    if not (
        set(map(type, queues)) <= _TEXT and set(map(type, keys)) <= _TEXT
        and set(map(type, priorities)) <= _INT
    ):  # fmt: skip
        return None
    try:
        for queue in set(queues):
            if queue is not None:
                check_queue_name(queue)
        for priority in set(priorities):
            if priority is not None:
                check_priority(priority)
    except InvalidOptionError:
        return None
    if any(bad_text(key) for key in set(keys) if key is not None):
        return None
    return Routing(
        queues=[DEFAULT_QUEUE if q is None else q for q in queues],
        priorities=[0 if p is None else p for p in priorities], keys=keys, key_limit=key_limit,
    )  # fmt: skip


_TEXT = frozenset({str, type(None)})
_INT = frozenset({int, type(None)})


def _bodies(spec: Spec, command: str, requests: Sequence[Any]) -> list[str]:
    """Each request's JSON, each checked against the command's shape first where it is a
    plain JSON value (as `JobBuilder.new_job`, request by request)."""
    shape = spec.shape
    if shape is None:
        return requests_to_json(requests, command)
    bodies: list[str] = []
    for r in requests:
        if type(r) in CHECKED_REQUESTS:
            check_request(shape, r, command)
        bodies.append(request_to_json(r, command))
    return bodies


def _per_request(spec: Spec, options: Mapping[str, Any]) -> bool:
    """Whether a job's fields other than its request's depend on the request: a command
    key (a template over the request, or a function of it) the options do not replace, a
    unique key made from the request's JSON."""
    if options.get("concurrency_key") is None:
        if spec.concurrency_key is not None:
            return True
        if not isinstance(spec, Command) and spec.concurrency_key_computed:
            return True
    return options.get("unique_key") is None and spec.unique_while_active
