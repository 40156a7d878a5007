"""Turning `EnqueueRequest`s into `NewJob`s: command defaults, option checks, request checks.

A command's defaults come from this process's registry or, for a command registered only
in other processes, from its declaration in the store (cached; read again on a miss).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from operator import attrgetter
from typing import Any, Protocol

from .errors import InvalidOptionError, UnknownCommandError
from .flow import key_from_template, unique_key_for
from .flow_records import DEFAULT_QUEUE, check_priority, check_queue_name
from .options import (
    EnqueueRequest,
    bad_text,
    check_options,
    dependency_policy,
    expires_at_ms,
    parents_of,
    run_after_ms,
)
from .records import CommandDefinition, DependencyPolicy, RequestShape
from .registry import Command, CommandRegistry
from .request_shape import check_request
from .retry_policy import policy_to_json
from .serialization import request_to_json, type_name
from .settings import Settings
from .store.protocol import NewJob, Store

Spec = Command | CommandDefinition
"""What enqueue needs of a command: worker, retry limit, timeout and request shape."""

UNDECLARED = CommandDefinition(name="")
"""Defaults for a command no engine declared (only with `allow_undeclared`)."""

CHECKED_REQUESTS = (dict, list, str, int, float, bool, type(None))
"""Request types checked against a command's shape: plain JSON values, as the CLI or a web
tier passes them (an instance of the request type is right by construction)."""


OPTIONS = tuple(f.name for f in fields(EnqueueRequest) if f.name not in ("command", "request"))
_ROUTING = ("queue", "priority", "concurrency_key")
"""The flow options most requests that set any set (`throughput.py`'s mixed workload):
built by `JobBuilder.routed_job` when they are the only ones set (`plain_job` when none
is: most requests set no option)."""
ROUTING_OPTIONS = frozenset(_ROUTING)
others_of = attrgetter(*(name for name in OPTIONS if name not in _ROUTING))
"""A request's options but queue, priority and key (compared with `NO_OTHERS`)."""
NO_OTHERS = others_of(EnqueueRequest(command="-"))


def _sets_routing_only(r: EnqueueRequest) -> bool:
    """Whether every option of `r` but queue, priority and concurrency key is at its
    default (unset options are compared by identity; a set one whose `==` gives no truth
    value, an array, is an option set)."""
    try:
        return bool(others_of(r) == NO_OTHERS)
    except Exception:
        return False


def _valid_routing(r: EnqueueRequest) -> bool:
    """Whether `r`'s queue, priority and key pass `check_options` (a bad one goes the
    general way, whose checks name it in their order)."""
    return valid_routing(r.queue, r.priority, r.concurrency_key)


def valid_routing(queue: Any, priority: Any, key: Any) -> bool:
    """Whether a queue, priority and concurrency key (None: unset) pass `check_options`."""
    if key is not None and bad_text(key):
        return False
    try:
        if queue is not None:
            check_queue_name(queue)
        if priority is not None:
            check_priority(priority)
    except InvalidOptionError:
        return False
    return True


class BuilderOwner(Protocol):
    """What a `JobBuilder` reads from its facade, each time (tests and the sync API swap
    the facade's store and registry after construction)."""

    registry: CommandRegistry
    settings: Settings
    store: Store


class _Miss(Exception):
    """A command known neither locally nor in the cached declarations."""


class JobBuilder:
    """Builds the rows enqueue stores; the only place enqueue options are resolved."""

    def __init__(self, owner: BuilderOwner) -> None:
        self._owner = owner
        self._declared: dict[str, CommandDefinition] = {}
        self._declared_in: Store | None = None
        """The store the cached declarations came from; another store means a miss."""

    @property
    def registry(self) -> CommandRegistry:
        return self._owner.registry

    @property
    def settings(self) -> Settings:
        return self._owner.settings

    @property
    def store(self) -> Store:
        return self._owner.store

    async def build(
        self, requests: Sequence[EnqueueRequest], now: int, *,
        allow_undeclared: bool = False,
    ) -> list[NewJob]:  # fmt: skip
        """The jobs for `requests`; reads the store's declarations only on a cache miss."""
        try:
            return self._jobs(requests, now, False, refreshed=False)
        except _Miss:
            await self.refresh()
        return self._jobs(requests, now, allow_undeclared, refreshed=True)

    def _jobs(
        self, requests: Sequence[EnqueueRequest], now: int, allow_undeclared: bool, *,
        refreshed: bool,
    ) -> list[NewJob]:  # fmt: skip
        """`new_job` of each request. The requests that set no option but a queue, priority
        or key (most of a batch) are built with their command's defaults looked up once a
        batch (`_Defaults`): ~1 µs a job less than `plain_job` and `routed_job` each time."""
        if len(requests) < 2:
            return [self.new_job(r, now, refreshed=refreshed, allow_undeclared=allow_undeclared)
                    for r in requests]  # fmt: skip
        known: dict[str, _Defaults | None] = {}
        jobs: list[NewJob] = []
        for r in requests:
            job = None
            command = r.command
            if type(command) is str and command and _sets_routing_only(r):
                try:
                    found = known[command]
                except KeyError:
                    spec = self._spec(command, allow_undeclared, refreshed=refreshed)
                    found = known[command] = _defaults(spec, command, self.settings)
                if found is not None:
                    job = found.job(r, now)
            if job is None:
                job = self.new_job(r, now, refreshed=refreshed, allow_undeclared=allow_undeclared)
            jobs.append(job)
        return jobs

    def known_plain_job(self, command: str, request: Any, now: int) -> NewJob | None:
        """`plain_job` for a command known here or in the cached declarations; None on a
        miss (then `build` looks it up in the store, or names it unknown)."""
        try:
            return self.plain_job(command, request, now, refreshed=False)
        except _Miss:
            return None

    def known_spec(self, name: str) -> Spec | None:
        """What enqueue knows of command `name` here or in the cached declarations; None on
        a miss (then `build` looks it up in the store, or names it unknown)."""
        try:
            return self._spec(name)
        except _Miss:
            return None

    async def refresh(self) -> list[CommandDefinition]:
        """Read the commands the engines declared in the store again; returns them."""
        store = self.store
        found = await store.declared_commands()
        self._declared = {d.name: d for d in found}
        self._declared_in = store
        return found

    async def declared(self, name: str) -> CommandDefinition | None:
        """`name` as declared in the store (fresh on a cache miss), or None."""
        if name not in self._declared or self._declared_in is not self.store:
            await self.refresh()
        return self._declared.get(name)

    async def spec(self, name: str) -> Spec:
        """What enqueue knows of command `name` (local, else declared; read again on a miss);
        UnknownCommandError if neither."""
        try:
            return self._spec(name)
        except _Miss:
            await self.refresh()
        return self._spec(name, refreshed=True)

    def _spec(self, name: str, allow_undeclared: bool = False, *, refreshed: bool = False) -> Spec:
        found = self.registry.find(name) if isinstance(name, str) else None
        if found is not None:
            return found
        declared = self._declared.get(name) if self._declared_in is self.store else None
        if declared is not None:
            return declared
        if not refreshed:
            raise _Miss(name)
        if allow_undeclared:
            return UNDECLARED
        return self._unknown(name)

    def _unknown(self, name: object) -> Spec:
        known = sorted({*self.registry.names(), *self._declared})
        listed = ", ".join(n for n in known if not n.startswith("jobs.")) or "none"
        raise UnknownCommandError(
            f"no command named '{name}' is registered here or declared by an engine in the "
            f"store (known: {listed})"
        )

    def new_job(
        self, r: EnqueueRequest, now: int, *, spec: Spec | None = None, refreshed: bool = True,
        allow_undeclared: bool = False,
    ) -> NewJob:  # fmt: skip
        """The row for one request; `spec` overrides the command lookup (transient jobs)."""
        if spec is None and _sets_routing_only(r):
            if r.queue is None and r.priority is None and r.concurrency_key is None:
                job = self.plain_job(
                    r.command, r.request, now, allow_undeclared, refreshed=refreshed
                )
            else:
                job = self.routed_job(r, now, allow_undeclared, refreshed=refreshed)
            if job is not None:
                return job
        check_options(r)
        if spec is None:
            spec = self._spec(r.command, allow_undeclared, refreshed=refreshed)
        if spec.worker and r.worker is not None and r.worker != spec.worker:
            raise _worker_conflict(r, spec.worker)
        if r.callback is not None:
            self._spec(r.callback, allow_undeclared, refreshed=refreshed)
        if spec.shape is not None and type(r.request) in CHECKED_REQUESTS:
            check_request(spec.shape, r.request, r.command)
        settings = self.settings
        parents = [] if r.depends_on is None else parents_of(r.depends_on)
        first = parents[0] if parents else None
        policy = _COMPLETED if r.depends_policy is None else dependency_policy(r.depends_policy)
        retry_limit = r.retry_limit if r.retry_limit is not None else spec.retry_limit
        timeout = r.timeout if r.timeout is not None else spec.timeout_secs
        body = request_to_json(r.request, r.command)
        worker = r.worker if r.worker is not None else spec.worker
        run_after = now if r.run_after is None else run_after_ms(r.run_after, now)
        return NewJob(
            command=r.command, request_type=type_name(r.request), request_body=body,
            worker=worker, run_after=run_after,
            retry_limit=retry_limit if retry_limit is not None else settings.default_retry_limit,
            timeout_secs=timeout if timeout is not None else settings.default_timeout_secs,
            parent_id=r.parent_id if r.parent_id is not None else first,
            depends_on=first, ref_id=r.ref_id, tag=r.tag, callback=r.callback,
            batch_id=r.batch_id, created_by=r.created_by, user_id=r.user_id,
            reply_to=r.reply_to, args=dict(r.args) if r.args else {},
            meta=dict(r.meta) if r.meta else {},
            dependencies=parents if len(parents) > 1 else [],
            depends_on_batch=r.depends_on_batch,
            depends_policy=policy,
            **(flow_fields(r, spec, body, worker, run_after) if _has_flow(r, spec) else {}),
        )  # fmt: skip

    def plain_job(
        self, command: str, request: Any, now: int, allow_undeclared: bool = False, *,
        refreshed: bool = True,
    ) -> NewJob | None:  # fmt: skip
        """The row for a request that sets no option (what `new_job` makes of it, without
        resolving options that are all unset), or None where `new_job` must build it: a
        command with flow options, or a `command` that is not a name (its check names it)."""
        if not isinstance(command, str) or not command:
            return None
        spec = self._spec(command, allow_undeclared, refreshed=refreshed)
        if spec.has_flow:
            return None
        return self._job(spec, command, request, now)

    def _job(self, spec: Spec, command: str, request: Any, now: int, **routing: Any) -> NewJob:
        """A job of `command` (without flow options of its own) with `routing`'s fields."""
        settings = self.settings
        retry_limit, timeout = spec.retry_limit, spec.timeout_secs
        return _new_job(
            command, request, now, spec.shape, spec.worker,
            retry_limit if retry_limit is not None else settings.default_retry_limit,
            timeout if timeout is not None else settings.default_timeout_secs, routing,
        )  # fmt: skip

    def routed_job(
        self, r: EnqueueRequest, now: int, allow_undeclared: bool = False, *,
        refreshed: bool = True,
    ) -> NewJob | None:  # fmt: skip
        """The row for a request that sets no option but a queue, priority or key (what
        `new_job` makes of it; ~2 µs a job less), or None where `new_job` must build it: a
        command with flow options or a worker, a bad value (its check names it), a
        `command` that is not a name."""
        command = r.command
        if not isinstance(command, str) or not command or not _valid_routing(r):
            return None
        spec = self._spec(command, allow_undeclared, refreshed=refreshed)
        return self._routed(spec, command, r.request, now, r.queue, r.priority,
                            r.concurrency_key)  # fmt: skip

    def known_routed_job(
        self, command: str, request: Any, now: int, queue: Any, priority: Any, key: Any
    ) -> NewJob | None:
        """`routed_job` of a lone `enqueue` whose options are a queue, priority or key alone
        (no `EnqueueRequest` made: ~4 µs), for a command known here or in the cached
        declarations; None where the general path must build it or name what is wrong."""
        if not isinstance(command, str) or not command or not valid_routing(queue, priority, key):
            return None
        spec = self.known_spec(command)
        if spec is None:
            return None
        return self._routed(spec, command, request, now, queue, priority, key)

    def _routed(
        self, spec: Spec, command: str, request: Any, now: int, queue: str | None,
        priority: int | None, key: str | None,
    ) -> NewJob | None:  # fmt: skip
        if spec.has_flow or spec.worker:
            return None
        return self._job(
            spec, command, request, now, queue=queue or DEFAULT_QUEUE, priority=priority or 0,
            concurrency_key=key,
            concurrency_limit=(spec.concurrency_limit or 1) if key is not None else 1,
        )  # fmt: skip


_COMPLETED = DependencyPolicy.COMPLETED


def _new_job(
    command: str, request: Any, now: int, shape: RequestShape | None, worker: str,
    retry_limit: int, timeout: float, routing: dict[str, Any],
) -> NewJob:  # fmt: skip
    """A job of `command` with its command's defaults (resolved) and `routing`'s fields."""
    if shape is not None and type(request) in CHECKED_REQUESTS:
        check_request(shape, request, command)
    return NewJob(
        command=command, request_type=type_name(request),
        request_body=request_to_json(request, command), worker=worker, run_after=now,
        retry_limit=retry_limit, timeout_secs=timeout, **routing,
    )  # fmt: skip


class _Defaults:
    """What a job of a command without flow options of its own takes from the command,
    resolved once a batch: `job` builds what `plain_job` or `routed_job` would."""

    __slots__ = ("command", "key_limit", "retry_limit", "shape", "timeout", "worker")

    def __init__(self, spec: Spec, command: str, settings: Settings) -> None:
        self.command = command
        self.shape = spec.shape
        self.worker = spec.worker
        self.retry_limit = (
            spec.retry_limit if spec.retry_limit is not None else settings.default_retry_limit
        )
        self.timeout = (
            spec.timeout_secs if spec.timeout_secs is not None else settings.default_timeout_secs
        )
        self.key_limit = spec.concurrency_limit or 1

    def job(self, r: EnqueueRequest, now: int) -> NewJob | None:
        """The job for `r` (which sets no option but queue, priority or key), or None where
        `new_job` must build it: a routed job of a command with a worker, a bad routing
        value (whose check names it)."""
        routing: dict[str, Any] = {}
        if r.queue is not None or r.priority is not None or r.concurrency_key is not None:
            if self.worker or not _valid_routing(r):
                return None
            key = r.concurrency_key
            routing = {
                "queue": r.queue or DEFAULT_QUEUE, "priority": r.priority or 0,
                "concurrency_key": key,
                "concurrency_limit": self.key_limit if key is not None else 1,
            }  # fmt: skip
        return _new_job(
            self.command, r.request, now, self.shape, self.worker, self.retry_limit,
            self.timeout, routing,
        )  # fmt: skip


def _defaults(spec: Spec, command: str, settings: Settings) -> _Defaults | None:
    """`spec`'s `_Defaults`, or None for a command with flow options of its own (`new_job`
    resolves them)."""
    return None if spec.has_flow else _Defaults(spec, command, settings)


def _has_flow(r: EnqueueRequest, spec: Spec) -> bool:
    """Whether the request or its command sets a flow option (most do not: the fields then
    keep their defaults, at no cost)."""
    return spec.has_flow or not (
        r.queue is None and r.priority is None and r.expires_at is None
        and r.expires_in is None and r.concurrency_key is None and r.unique_key is None
        and r.on_conflict is None and r.retry is None and r.concurrency_limit is None
    )  # fmt: skip


def flow_fields(
    r: EnqueueRequest, spec: Spec, body: str, worker: str, run_after: int
) -> dict[str, Any]:
    """The flow-control fields of a new job: the request's options over the command's."""
    if worker and r.queue is not None and r.queue != worker:
        raise InvalidOptionError(
            f"queue '{r.queue}': command '{r.command}' runs on worker '{worker}', whose jobs "
            f"are in the queue '{worker}' (one at a time, in order); leave queue out"
        )
    fields: dict[str, Any] = {
        "queue": worker or r.queue or spec.queue or DEFAULT_QUEUE,
        "on_conflict": r.on_conflict or "raise",
    }
    priority = r.priority if r.priority is not None else spec.priority
    if priority:
        fields["priority"] = priority
    expires_at = _expires_at(r, spec, run_after)
    if expires_at is not None:
        fields["expires_at"] = expires_at
    key = _concurrency_key(r, spec, body)
    if key is not None:
        limit = r.concurrency_limit if r.concurrency_limit is not None else spec.concurrency_limit
        fields["concurrency_key"], fields["concurrency_limit"] = key, limit or 1
    if r.unique_key is not None:
        fields["unique_key"] = r.unique_key
    elif spec.unique_while_active:
        fields["unique_key"] = unique_key_for(r.command, body)
    if r.retry is not None:
        fields["retry_policy"] = policy_to_json(r.retry)
    return fields


def _expires_at(r: EnqueueRequest, spec: Spec, run_after: int) -> int | None:
    """`expires_at`, else `expires_in` (the request's, else the command's) counted from
    when the job becomes due."""
    if r.expires_at is not None:
        return expires_at_ms(r.expires_at)
    if r.expires_in is not None:
        return run_after + round(r.expires_in.total_seconds() * 1000)
    if isinstance(spec, Command):
        secs = spec.expires_in.total_seconds() if spec.expires_in is not None else None
    else:
        secs = spec.expires_in_secs
    return None if secs is None else run_after + round(secs * 1000)


def _concurrency_key(r: EnqueueRequest, spec: Spec, body: str) -> str | None:
    """The request's key, else the command's: a function of the request (only where the
    handler is registered), a template over the request's fields, or a fixed key."""
    if r.concurrency_key is not None:
        return r.concurrency_key
    key = spec.concurrency_key
    if callable(key):
        value = key(r.request)
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidOptionError(
                f"command '{r.command}': its concurrency_key function returned {value!r}; "
                "it must return a non-empty string or None"
            )
        return value
    if isinstance(spec, CommandDefinition) and spec.concurrency_key_computed:
        raise InvalidOptionError(
            f"command '{r.command}' computes its concurrency key from the request in the "
            "app's code, which this process does not have: give concurrency_key explicitly "
            "(or enqueue where the handler is registered)"
        )
    return None if key is None else key_from_template(key, body, r.command)


def _worker_conflict(r: EnqueueRequest, declared: str) -> InvalidOptionError:
    return InvalidOptionError(
        f"worker '{r.worker}': command '{r.command}' runs on its declared worker "
        f"'{declared}', one job at a time; another worker would break that guarantee "
        "(leave worker out)"
    )
