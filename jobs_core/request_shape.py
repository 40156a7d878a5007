"""Request shapes: the JSON fields a request type takes, and checking a request against them."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
import uuid
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any, is_typeddict

from .errors import InvalidRequestError
from .records import RequestShape

ANY = "any"

_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    ((str, datetime, date, time, uuid.UUID), "string"),
    ((list, tuple, set, frozenset), "array"),
    ((dict, Mapping), "object"),
)


def describe(request_type: Any) -> RequestShape | None:
    """The shape of a dataclass, pydantic model or TypedDict; None for anything else
    (dicts, plain values, unions such as `X | None`), which is not checked."""
    if not isinstance(request_type, type):
        return None
    try:
        if hasattr(request_type, "model_fields") and hasattr(request_type, "model_validate"):
            return _pydantic(request_type)
        if dataclasses.is_dataclass(request_type):
            return _dataclass(request_type)
        if is_typeddict(request_type):
            return _typeddict(request_type)
    except Exception:  # an annotation that cannot be resolved: leave the request unchecked
        return None
    return None


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _dataclass(cls: type) -> RequestShape:
    hints = typing.get_type_hints(cls)
    required: dict[str, str] = {}
    optional: dict[str, str] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        has_default = (
            f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        )
        (optional if has_default else required)[f.name] = kind_of(hints.get(f.name, Any))
    return RequestShape(type_name=_name(cls), required=required, optional=optional)


def _pydantic(cls: Any) -> RequestShape:
    required: dict[str, str] = {}
    optional: dict[str, str] = {}
    for name, info in cls.model_fields.items():
        key = info.alias or name
        (required if info.is_required() else optional)[key] = kind_of(info.annotation)
    closed = cls.model_config.get("extra") == "forbid"
    return RequestShape(type_name=_name(cls), required=required, optional=optional, closed=closed)


def _typeddict(cls: Any) -> RequestShape:
    required: dict[str, str] = {}
    optional: dict[str, str] = {}
    for key, hint in typing.get_type_hints(cls, include_extras=True).items():
        # `__required_keys__` misses NotRequired[...] written as a string annotation (3.11).
        needed = key in cls.__required_keys__
        if typing.get_origin(hint) in (typing.NotRequired, typing.Required):
            needed = typing.get_origin(hint) is typing.Required
            (hint,) = typing.get_args(hint)
        (required if needed else optional)[key] = kind_of(hint)
    return RequestShape(type_name=_name(cls), required=required, optional=optional)


def kind_of(annotation: Any) -> str:
    """The JSON kind of an annotation: `string`, `integer|null`, ... or `any` if unsure."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return kind_of(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        kinds = {kind_of(a) for a in args if a is not type(None)}
        if len(kinds) != 1 or ANY in kinds:
            return ANY
        (kind,) = kinds
        return f"{kind}|null" if type(None) in args else kind
    target = origin or annotation
    if not isinstance(target, type) or issubclass(target, enum.Enum):
        return ANY
    if dataclasses.is_dataclass(target) or hasattr(target, "model_fields"):
        return "object"
    for types_, kind in _KINDS:
        if issubclass(target, types_):
            return kind
    return ANY


def json_kind(value: Any) -> str:
    """The JSON kind of a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object" if isinstance(value, dict) else ANY


def _fits(value: Any, kind: str) -> bool:
    if kind == ANY:
        return True
    actual = json_kind(value)
    allowed = kind.split("|")
    return actual in allowed or (actual == "integer" and "number" in allowed)


def check_request(shape: RequestShape, data: Any, command: str) -> None:
    """Refuse `data` (a decoded JSON request) that does not fit `shape`, with one error
    naming every missing, unknown and mistyped field."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidRequestError(
            f"the request of command '{command}' must be a JSON object with the fields of "
            f"{shape.type_name}, got {json_kind(data)}",
            {"": f"expected an object, got {json_kind(data)}"},
        )
    problems = shape_problems(shape, data)
    if problems:
        listed = "; ".join(f"{name}: {problem}" for name, problem in problems.items())
        raise InvalidRequestError(
            f"the request of command '{command}' does not fit {shape.type_name}: {listed}",
            problems,
        )


def shape_problems(shape: RequestShape, data: Mapping[str, Any]) -> dict[str, str]:
    """Field → what is wrong with it, for every field of `data` that does not fit."""
    problems: dict[str, str] = {}
    for name in shape.required:
        if name not in data:
            problems[name] = "missing (required)"
    for name, value in data.items():
        kind = shape.required.get(name) or shape.optional.get(name)
        if kind is None:
            if shape.closed:
                problems[name] = "unknown field"
        elif not _fits(value, kind):
            problems[name] = f"expected {kind.replace('|', ' or ')}, got {json_kind(value)}"
    return problems


def shape_to_json(shape: RequestShape) -> dict[str, Any]:
    """The shape as plain JSON (stored with a command's declaration)."""
    return {
        "type_name": shape.type_name,
        "required": shape.required,
        "optional": shape.optional,
        "closed": shape.closed,
    }


def shape_from_json(data: Mapping[str, Any]) -> RequestShape:
    return RequestShape(
        type_name=str(data.get("type_name", "")),
        required=dict(data.get("required") or {}),
        optional=dict(data.get("optional") or {}),
        closed=bool(data.get("closed", True)),
    )
