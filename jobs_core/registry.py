"""The registry of commands: handlers, their request types and default options."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .errors import InvalidOptionError, UnknownCommandError
from .flow import key_fields
from .flow_records import (
    DEFAULT_QUEUE,
    check_concurrency,
    check_duration,
    check_priority,
    check_queue_name,
)
from .records import CommandDefinition, RequestShape
from .request_shape import describe
from .retry_policy import RetryPolicy, check_policy

Handler = Callable[..., Any]

KeyFunction = Callable[[Any], str | None]
"""Computes a job's concurrency key from its request (None: no key)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A registered command: what runs a job and the defaults it brings."""

    name: str
    handler: Handler
    """`async def` or plain `def`, taking `(request, ctx)`, `(request)`, `(ctx)` or nothing."""
    is_async: bool
    request_type: Any
    """Annotated type of the request parameter; `Any` when unannotated."""
    takes_request: bool
    takes_context: bool
    worker: str = ""
    """Named worker all jobs of this command go to, one at a time; an enqueue may not name
    another."""
    retry_limit: int | None = None
    timeout_secs: float | None = None
    shape: RequestShape | None = None
    """The request's fields, when its type is a dataclass, pydantic model or TypedDict."""
    queue: str | None = None
    """Its queue; None for the default queue (with a worker: the worker's queue)."""
    priority: int | None = None
    """Its jobs' priority when an enqueue gives none."""
    concurrency_key: str | KeyFunction | None = None
    """Its jobs' concurrency key: a template over request fields (`user:{user_id}`), a fixed
    key, or a function of the request."""
    concurrency_limit: int | None = None
    """Jobs with one key that may run at once (default 1)."""
    unique_while_active: bool = False
    """An enqueue of an equal request while one is queued or running returns that job."""
    retry: RetryPolicy | None = None
    """Its retry policy (a job's own policy, given at enqueue, wins)."""
    expires_in: timedelta | None = None
    """Its jobs expire this long after they become due, unless started."""
    has_flow: bool = False
    """Whether it sets a flow option for its jobs (queue, priority, key, unique, expiry)."""

    def definition(self, *, declared_by: str, declared_at: int) -> CommandDefinition:
        """The command as an engine declares it in the store."""
        shape = self.shape
        key = self.concurrency_key
        return CommandDefinition(
            name=self.name, worker=self.worker, retry_limit=self.retry_limit,
            timeout_secs=self.timeout_secs,
            request_type=shape.type_name if shape else _type_name(self.request_type),
            shape=shape, declared_by=declared_by, declared_at=declared_at,
            queue=self.queue, priority=self.priority,
            concurrency_key=key if isinstance(key, str) else None,
            concurrency_key_computed=callable(key), concurrency_limit=self.concurrency_limit,
            unique_while_active=self.unique_while_active,
            expires_in_secs=self.expires_in.total_seconds() if self.expires_in else None,
        )  # fmt: skip


class CommandRegistry:
    """Commands by name; the engine only claims jobs whose command it knows."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}

    def add(
        self,
        handler: Handler,
        *,
        name: str | None = None,
        worker: str | None = None,
        retry_limit: int | None = None,
        timeout: float | None = None,
        flow: FlowOptions | None = None,
    ) -> Command:
        """Register `handler` under `name` (default: the function's name)."""
        command_name = name or handler.__name__
        if retry_limit is not None and retry_limit < 0:
            raise InvalidOptionError(f"command '{command_name}': retry_limit must be >= 0")
        if timeout is not None and timeout <= 0:
            raise InvalidOptionError(f"command '{command_name}': timeout must be > 0 seconds")
        flow = flow or FlowOptions()
        _check_flow(command_name, worker, flow)
        takes_request, takes_context, request_type = _inspect_handler(command_name, handler)
        command = Command(
            name=command_name,
            handler=handler,
            is_async=inspect.iscoroutinefunction(handler),
            request_type=request_type,
            takes_request=takes_request,
            takes_context=takes_context,
            worker=worker or "",
            retry_limit=retry_limit,
            timeout_secs=timeout,
            shape=describe(request_type) if takes_request else None,
            queue=flow.queue,
            priority=flow.priority,
            concurrency_key=flow.concurrency_key,
            concurrency_limit=flow.concurrency_limit,
            unique_while_active=flow.unique_while_active,
            retry=flow.retry,
            expires_in=flow.expires_in,
            has_flow=flow.sets_job_fields,
        )
        self._commands[command_name] = command
        return command

    def get(self, name: str) -> Command:
        """The command called `name`, or UnknownCommandError listing the known ones."""
        try:
            return self._commands[name]
        except KeyError:
            known = ", ".join(sorted(self._commands)) or "none"
            raise UnknownCommandError(
                f"no command named '{name}' is registered (known: {known})"
            ) from None

    def find(self, name: str) -> Command | None:
        """The command called `name`, or None."""
        return self._commands.get(name)

    def commands(self) -> list[Command]:
        """Every registered command, by name."""
        return [self._commands[name] for name in sorted(self._commands)]

    def __contains__(self, name: object) -> bool:
        return name in self._commands

    def names(self) -> list[str]:
        return sorted(self._commands)


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowOptions:
    """A command's flow-control options, as `@jobs.command(...)` takes them."""

    queue: str | None = None
    priority: int | None = None
    concurrency_key: str | KeyFunction | None = None
    concurrency_limit: int | None = None
    unique_while_active: bool = False
    retry: RetryPolicy | None = None
    expires_in: timedelta | None = None

    @property
    def sets_job_fields(self) -> bool:
        """Whether they change the jobs' flow fields at enqueue (the retry policy does not:
        the engine reads it from the command)."""
        return (
            self.queue is not None or bool(self.priority) or self.concurrency_key is not None
            or self.unique_while_active or self.expires_in is not None
        )  # fmt: skip


def _check_flow(name: str, worker: str | None, flow: FlowOptions) -> None:
    """Refuse flow options that cannot work together, naming the command."""
    if worker == DEFAULT_QUEUE:
        raise InvalidOptionError(
            f"command '{name}': worker '{DEFAULT_QUEUE}' is the default queue's name; "
            "choose another"
        )
    if worker and flow.queue is not None and flow.queue != worker:
        raise InvalidOptionError(
            f"command '{name}': a named worker's jobs are in the queue of its name "
            f"('{worker}'), not '{flow.queue}'; leave queue out"
        )
    where = f"command '{name}': "
    try:
        if flow.queue is not None:
            check_queue_name(flow.queue)
        if flow.priority is not None:
            check_priority(flow.priority)
        check_concurrency(flow.concurrency_limit, "concurrency_limit")
        if flow.retry is not None:
            check_policy(flow.retry)
        if flow.expires_in is not None:
            check_duration(flow.expires_in, "expires_in")
    except InvalidOptionError as error:
        raise InvalidOptionError(where + str(error)) from None
    key = flow.concurrency_key
    if key is not None and not callable(key) and not (isinstance(key, str) and key.strip()):
        raise InvalidOptionError(
            f"command '{name}': concurrency_key must be a template such as 'user:{{user_id}}', "
            f"a fixed key or a function of the request, got {key!r}"
        )
    if isinstance(key, str):
        try:
            key_fields(key)  # a malformed template is refused now, not at the first enqueue
        except InvalidOptionError as error:
            raise InvalidOptionError(where + str(error)) from None


def _inspect_handler(name: str, handler: Handler) -> tuple[bool, bool, Any]:
    """Which of (request, ctx) the handler takes, and the request's annotated type."""
    params = [
        p
        for p in inspect.signature(handler).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(params) > 2:
        raise InvalidOptionError(
            f"command '{name}': a handler takes (request, ctx), (request), (ctx) or nothing; "
            f"it has {len(params)} parameters"
        )
    try:
        hints = typing.get_type_hints(handler)
    except Exception:
        hints = {}
    if len(params) == 2:
        return True, True, hints.get(params[0].name, Any)
    if len(params) == 1:
        if params[0].name in ("ctx", "context") or _is_context(hints.get(params[0].name)):
            return False, True, Any
        return True, False, hints.get(params[0].name, Any)
    return False, False, Any


def _type_name(annotation: Any) -> str:
    if annotation is Any or annotation is None:
        return ""
    if isinstance(annotation, type):
        if annotation.__module__ == "builtins":
            return annotation.__qualname__
        return f"{annotation.__module__}.{annotation.__qualname__}"
    return str(annotation)


def _is_context(annotation: Any) -> bool:
    return getattr(annotation, "__name__", "") == "JobContext"
