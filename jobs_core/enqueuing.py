"""Turning `EnqueueRequest`s into `NewJob`s: command defaults, option checks, request checks.

A command's defaults come from this process's registry or, for a command registered only
in other processes, from its declaration in the store (cached; read again on a miss).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .errors import InvalidOptionError, UnknownCommandError
from .options import (
    EnqueueRequest,
    check_options,
    dependency_policy,
    parents_of,
    run_after_ms,
)
from .records import CommandDefinition, DependencyPolicy
from .registry import Command, CommandRegistry
from .request_shape import check_request
from .serialization import to_json, type_name
from .settings import Settings
from .store.protocol import NewJob, Store

Spec = Command | CommandDefinition
"""What enqueue needs of a command: worker, retry limit, timeout and request shape."""

UNDECLARED = CommandDefinition(name="")
"""Defaults for a command no engine declared (only with `allow_undeclared`)."""

_CHECKED_REQUESTS = (dict, list, str, int, float, bool, type(None))
"""Request types checked against a command's shape: plain JSON values, as the CLI or a web
tier passes them (an instance of the request type is right by construction)."""


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
            return [self.new_job(r, now, refreshed=False) for r in requests]
        except _Miss:
            await self.refresh()
        return [self.new_job(r, now, allow_undeclared=allow_undeclared) for r in requests]

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
        check_options(r)
        if spec is None:
            spec = self._spec(r.command, allow_undeclared, refreshed=refreshed)
        if spec.worker and r.worker is not None and r.worker != spec.worker:
            raise _worker_conflict(r, spec.worker)
        if r.callback is not None:
            self._spec(r.callback, allow_undeclared, refreshed=refreshed)
        if spec.shape is not None and type(r.request) in _CHECKED_REQUESTS:
            check_request(spec.shape, r.request, r.command)
        settings = self.settings
        parents = [] if r.depends_on is None else parents_of(r.depends_on)
        first = parents[0] if parents else None
        policy = _COMPLETED if r.depends_policy is None else dependency_policy(r.depends_policy)
        retry_limit = r.retry_limit if r.retry_limit is not None else spec.retry_limit
        timeout = r.timeout if r.timeout is not None else spec.timeout_secs
        return NewJob(
            command=r.command, request_type=type_name(r.request),
            request_body=to_json(r.request, what=f"the request of command '{r.command}'"),
            worker=r.worker if r.worker is not None else spec.worker,
            run_after=now if r.run_after is None else run_after_ms(r.run_after, now),
            retry_limit=retry_limit if retry_limit is not None else settings.default_retry_limit,
            timeout_secs=timeout if timeout is not None else settings.default_timeout_secs,
            parent_id=r.parent_id if r.parent_id is not None else first,
            depends_on=first, ref_id=r.ref_id, tag=r.tag, callback=r.callback,
            batch_id=r.batch_id, created_by=r.created_by, user_id=r.user_id,
            reply_to=r.reply_to, args=dict(r.args or {}), meta=dict(r.meta),
            dependencies=parents if len(parents) > 1 else [],
            depends_on_batch=r.depends_on_batch,
            depends_policy=policy,
        )  # fmt: skip


_COMPLETED = DependencyPolicy.COMPLETED


def _worker_conflict(r: EnqueueRequest, declared: str) -> InvalidOptionError:
    return InvalidOptionError(
        f"worker '{r.worker}': command '{r.command}' runs on its declared worker "
        f"'{declared}', one job at a time; another worker would break that guarantee "
        "(leave worker out)"
    )
