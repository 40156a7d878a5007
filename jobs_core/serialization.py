"""Requests and results to JSON and back: dataclasses, pydantic models, dicts, plain values."""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .errors import InvalidRequestError, JobsError, UnserialisableRequestError

JSON_TYPES = (str, int, float, bool, type(None))


def type_name(value: object) -> str:
    """The qualified name recorded with a serialised value."""
    if value is None:
        return ""
    cls = type(value)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _default(value: object) -> Any:
    # Called by the C encoder only for values JSON has no type for.
    if isinstance(value, set | frozenset | bytes | bytearray):
        raise TypeError("not representable")
    return to_plain(value, path="")


_ENCODER = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
)


def to_json(
    value: object, *, what: str, error: type[JobsError] = UnserialisableRequestError
) -> str:
    """Serialise `value` to JSON, or raise `error` naming `what` and the part that cannot be
    stored."""
    try:
        return _ENCODER.encode(value)  # the C encoder: the enqueue hot path
    except (TypeError, ValueError):
        pass  # walk the value again to name the part that cannot be stored
    try:
        plain = to_plain(value, path="")
        return json.dumps(plain, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as problem:
        raise error(f"{what} cannot be stored as JSON: {problem}") from None


def to_plain(value: object, *, path: str) -> Any:
    """Turn `value` into JSON-ready dicts, lists and scalars, or raise TypeError naming `path`."""
    if isinstance(value, JSON_TYPES):
        if isinstance(value, float) and value != value:
            raise ValueError(f"{path or 'value'} is NaN")
        return value
    if isinstance(value, enum.Enum):
        return to_plain(value.value, path=path)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_plain(getattr(value, f.name), path=f"{path}.{f.name}".lstrip("."))
            for f in dataclasses.fields(value)
        }
    if hasattr(value, "model_dump") and callable(value.model_dump):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        plain: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path or 'value'} has a non-string key {key!r}")
            plain[key] = to_plain(item, path=f"{path}.{key}".lstrip("."))
        return plain
    if isinstance(value, list | tuple):
        return [to_plain(item, path=f"{path}[{i}]") for i, item in enumerate(value)]
    where = f"field '{path}'" if path else "the value"
    raise TypeError(f"{where} is a {type(value).__name__}, which JSON cannot represent")


def from_json(body: str, target: Any, *, what: str = "the request") -> Any:
    """Rebuild a value of type `target` (a dataclass, pydantic model, dict or Any) from JSON.

    Raises InvalidRequestError naming the fields when the JSON does not fit `target`.
    """
    try:
        return from_plain(json.loads(body), target)
    except InvalidRequestError as error:
        raise InvalidRequestError(f"{what} does not fit {error}", error.field_errors) from None
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        name = getattr(target, "__qualname__", str(target))
        message = " ".join(str(error).split())
        raise InvalidRequestError(
            f"{what} does not fit {name}: {message}", _field_errors(error)
        ) from error


def _field_errors(error: Exception) -> dict[str, str]:
    """Per-field messages of a pydantic ValidationError (`errors()`); empty for others."""
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return {}
    try:
        return {
            ".".join(str(part) for part in item["loc"]) or "": str(item["msg"]) for item in errors()
        }
    except Exception:  # not pydantic's shape after all
        return {}


def from_plain(data: Any, target: Any) -> Any:
    """Convert JSON data into `target`, following dataclass fields and common generic types."""
    if target is None or target is Any or target is object or data is None:
        return data
    origin = typing.get_origin(target)
    if origin in (typing.Union, types.UnionType):
        options = [t for t in typing.get_args(target) if t is not type(None)]
        return from_plain(data, options[0]) if len(options) == 1 else data
    if origin in (list, tuple, set, frozenset):
        (item_type, *_) = typing.get_args(target) or (Any,)
        return origin(from_plain(item, item_type) for item in data)
    if origin is dict:
        _, value_type = typing.get_args(target) or (str, Any)
        return {key: from_plain(item, value_type) for key, item in data.items()}
    if not isinstance(target, type):
        return data
    if hasattr(target, "model_validate"):
        return target.model_validate(data)
    if dataclasses.is_dataclass(target):
        return _dataclass(data, target)
    return _scalar(data, target)


def _dataclass(data: Any, target: type) -> Any:
    """An instance of the dataclass `target`, refusing missing and unknown fields by name."""
    if not isinstance(data, dict):
        got = type(data).__name__
        raise InvalidRequestError(f"{target.__qualname__}: expected an object, got {got}")
    hints = typing.get_type_hints(target)
    fields = [f for f in dataclasses.fields(target) if f.init]
    known = {f.name for f in fields}
    problems = {k: "unknown field" for k in data if k not in known}
    for f in fields:
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and f.name not in data:
            problems[f.name] = "missing (required)"
    if problems:
        listed = "; ".join(f"{name}: {problem}" for name, problem in problems.items())
        raise InvalidRequestError(f"{target.__qualname__}: {listed}", problems)
    return target(**{k: from_plain(v, hints.get(k)) for k, v in data.items()})


def _scalar(data: Any, target: type) -> Any:
    if issubclass(target, datetime):
        return datetime.fromisoformat(data)
    if issubclass(target, date):
        return date.fromisoformat(data)
    if issubclass(target, enum.Enum | uuid.UUID | Decimal):
        return target(data)
    return data
