"""`RetryPolicy`: how long to wait before a retry, and which errors a retry may fix.

Pure rules with no I/O: the delay after failed attempt N, and whether an exception is
retried at all. A policy is set per command (`@jobs.command(retry=...)`) or per job
(`enqueue(..., retry=...)`, stored with the job as JSON, so the engine of any process
applies it); the job's wins. Exception types are kept by qualified name, so a policy read
back from the store matches the same classes as the one given in code.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Literal

from .errors import InvalidOptionError


class BackoffKind(StrEnum):
    """How the pause between retries grows."""

    EXPONENTIAL = "exponential"
    """base, then twice that, four times, and so on (the default)."""
    LINEAR = "linear"
    """base, then twice that, three times, and so on."""
    FIXED = "fixed"
    """base every time."""


ErrorTypes = tuple[type[BaseException] | str, ...]
"""Exception classes, or their qualified names (`module.Class`; a builtin by its bare name)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How a job is retried after an ordinary exception (`retry_limit` says how often).

    `None` fields take the engine's settings (`retry_backoff_secs`, `retry_backoff_max_secs`,
    `retry_jitter`). `retry_on` lists the only exceptions retried (empty: every exception);
    `no_retry_on` lists exceptions that fail the job at once, like `PermanentError` does.
    Both match subclasses. A `PermanentError` is never retried, whatever the policy.
    """

    backoff: BackoffKind | Literal["exponential", "linear", "fixed"] = BackoffKind.EXPONENTIAL
    """How the pause grows from one retry to the next."""
    base: float | timedelta | None = None
    """The first pause (seconds or a timedelta)."""
    cap: float | timedelta | None = None
    """The longest pause (seconds or a timedelta)."""
    jitter: float | None = None
    """Random spread of each pause as a fraction (0.25 = ±25%); 0 for exact pauses."""
    retry_on: ErrorTypes = ()
    """Only these exceptions (and subclasses) are retried; empty means every exception."""
    no_retry_on: ErrorTypes = ()
    """These exceptions (and subclasses) fail the job at once."""

    def __post_init__(self) -> None:
        check_policy(self)

    @property
    def base_secs(self) -> float | None:
        return _secs(self.base)

    @property
    def cap_secs(self) -> float | None:
        return _secs(self.cap)


def _secs(value: float | timedelta | None) -> float | None:
    if isinstance(value, timedelta):
        return value.total_seconds()
    return None if value is None else float(value)


def check_policy(policy: object, name: str = "retry") -> None:
    """Refuse a policy with a field of the wrong type or value, naming it."""
    if not isinstance(policy, RetryPolicy):
        raise InvalidOptionError(
            f"{name} must be a RetryPolicy, got {type(policy).__name__} {policy!r}"
        )
    try:
        BackoffKind(policy.backoff)
    except ValueError:
        kinds = ", ".join(k.value for k in BackoffKind)
        raise InvalidOptionError(
            f"{name}.backoff must be one of {kinds}, got {policy.backoff!r}"
        ) from None
    for field_name in ("base", "cap"):
        value = getattr(policy, field_name)
        if value is None:
            continue
        secs = _secs(value) if isinstance(value, timedelta | int | float) else None
        if isinstance(value, bool) or secs is None or not math.isfinite(secs) or secs < 0:
            raise InvalidOptionError(
                f"{name}.{field_name} must be seconds (>= 0) or a timedelta, got {value!r}"
            )
    jitter = policy.jitter
    if jitter is not None and (
        isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter <= 1
    ):
        raise InvalidOptionError(f"{name}.jitter must be a fraction from 0 to 1, got {jitter!r}")
    for field_name in ("retry_on", "no_retry_on"):
        _check_types(getattr(policy, field_name), f"{name}.{field_name}")


def _check_types(value: object, name: str) -> None:
    if not isinstance(value, tuple | list):
        raise InvalidOptionError(f"{name} must be a tuple of exception types, got {value!r}")
    for item in value:
        is_error_type = isinstance(item, type) and issubclass(item, BaseException)
        if not is_error_type and not (isinstance(item, str) and item.strip()):
            raise InvalidOptionError(
                f"{name}: {item!r} is neither an exception class nor a class name"
            )


def type_key(cls: type[BaseException]) -> str:
    """The name an exception class is kept by: `module.Qualname`, a builtin's bare name."""
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _names(types: ErrorTypes) -> frozenset[str]:
    return frozenset(t if isinstance(t, str) else type_key(t) for t in types)


def _matches(exc: BaseException, names: frozenset[str]) -> bool:
    return any(type_key(cls) in names for cls in type(exc).__mro__)


def should_retry(policy: RetryPolicy | None, exc: BaseException) -> bool:
    """Whether an attempt that raised `exc` may be retried (retry limit permitting)."""
    if policy is None:
        return True
    if policy.no_retry_on and _matches(exc, _names(policy.no_retry_on)):
        return False
    return not policy.retry_on or _matches(exc, _names(policy.retry_on))


def delay_ms(
    policy: RetryPolicy | None,
    attempt: int,
    rng: random.Random,
    *,
    default_base: float,
    default_cap: float,
    default_jitter: float,
) -> int:
    """The pause before the retry that follows failed attempt number `attempt` (1-based)."""
    kind = BackoffKind.EXPONENTIAL if policy is None else BackoffKind(policy.backoff)
    base = default_base if policy is None or policy.base is None else policy.base_secs
    cap = default_cap if policy is None or policy.cap is None else policy.cap_secs
    jitter = default_jitter if policy is None or policy.jitter is None else policy.jitter
    assert base is not None and cap is not None
    n = max(1, attempt)
    if kind is BackoffKind.EXPONENTIAL:
        # min() first: 2 ** 2000 overflows a float, and no cap is that long.
        pause = base * 2 ** min(n - 1, 64)
    elif kind is BackoffKind.LINEAR:
        pause = base * n
    else:
        pause = base
    spread = 1 + rng.uniform(-jitter, jitter) if jitter else 1.0
    return max(0, int(min(cap, pause) * spread * 1000))


def policy_to_json(policy: RetryPolicy | None) -> str | None:
    """The policy as stored with a job (exception types by name); None for none."""
    if policy is None:
        return None
    data: dict[str, Any] = {"backoff": BackoffKind(policy.backoff).value}
    for key, value in (
        ("base", policy.base_secs), ("cap", policy.cap_secs), ("jitter", policy.jitter),
    ):  # fmt: skip
        if value is not None:
            data[key] = value
    if policy.retry_on:
        data["retry_on"] = sorted(_names(policy.retry_on))
    if policy.no_retry_on:
        data["no_retry_on"] = sorted(_names(policy.no_retry_on))
    return json.dumps(data, separators=(",", ":"))


def policy_from_json(text: str | None) -> RetryPolicy | None:
    """A policy stored by `policy_to_json`; None for none."""
    if not text:
        return None
    data = json.loads(text)
    return RetryPolicy(
        backoff=BackoffKind(data.get("backoff", "exponential")),
        base=data.get("base"),
        cap=data.get("cap"),
        jitter=data.get("jitter"),
        retry_on=tuple(data.get("retry_on", ())),
        no_retry_on=tuple(data.get("no_retry_on", ())),
    )
