"""`fast_init` keeps a frozen record's constructor contract: signature, defaults, fresh
factory values, errors, frozen instances."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from jobs_core.fast_init import fast_init, row_builder
from jobs_core.records import Job


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Plain:
    name: str
    count: int = 0
    tags: list[str] = dataclasses.field(default_factory=list)


@fast_init
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Fast:
    name: str
    count: int = 0
    tags: list[str] = dataclasses.field(default_factory=list)


def test_fast_init_has_the_dataclass_signature() -> None:
    assert str(inspect.signature(Fast)) == str(inspect.signature(Plain))


def test_fast_init_sets_fields_defaults_and_fresh_factory_values() -> None:
    first, second = Fast(name="a"), Fast(name="a", count=2, tags=["x"])
    assert (first.name, first.count, first.tags) == ("a", 0, [])
    assert (second.name, second.count, second.tags) == ("a", 2, ["x"])
    assert Fast(name="b").tags is not Fast(name="b").tags
    assert Fast(name="a") == Fast(name="a")
    assert dataclasses.replace(second, count=3) == Fast(name="a", count=3, tags=["x"])


def test_fast_init_instances_stay_frozen_and_refuse_bad_arguments() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Fast(name="a").count = 1  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'name'"):
        Fast()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'other'"):
        Fast(name="a", other=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="positional"):
        Fast("a")  # type: ignore[call-arg]


def test_fast_init_refuses_positional_fields() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Positional:
        name: str

    with pytest.raises(TypeError, match="Positional needs keyword-only fields"):
        fast_init(Positional)


def test_row_builder_sets_fields_by_column_and_defaults_the_rest() -> None:
    build = row_builder(Plain, ["count", "name"])
    made = build((3, "a"))
    assert made == Plain(name="a", count=3)
    assert build((1, "b")).tags is not build((1, "b")).tags
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.count = 1  # type: ignore[misc]
    assert row_builder(Plain, ["name"], {"count": 5})(("b",)) == Plain(name="b", count=5)


def test_row_builder_refuses_unknown_columns_and_fields_without_a_value() -> None:
    with pytest.raises(TypeError, match=r"Plain has no field \['other'\]"):
        row_builder(Plain, ["name", "other"])
    with pytest.raises(TypeError, match=r"Plain\.name has no column and no default"):
        row_builder(Plain, ["count"])


def test_row_builder_makes_the_job_its_constructor_makes() -> None:
    row = [
        f"v-{name}" if name in ("command", "worker") else None
        for name in (f.name for f in dataclasses.fields(Job))
    ]
    names = [f.name for f in dataclasses.fields(Job)]
    values = dict(zip(names, row, strict=True))
    values.update(id=7, meta={}, args={})
    expected = Job(**values)
    assert row_builder(Job, list(values))(list(values.values())) == expected
