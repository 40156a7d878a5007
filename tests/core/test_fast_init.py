"""`fast_init` keeps a frozen record's constructor contract: signature, defaults, fresh
factory values, errors, frozen instances."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle

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


@fast_init
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Wide:
    """Enough fields to be made through its twin class (`TWIN_FROM`)."""

    name: str
    count: int = 0
    size: int = 1
    label: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)


class Narrower(Wide):
    __slots__ = ()


def test_fast_init_through_the_twin_makes_frozen_instances_of_the_class_itself() -> None:
    assert Wide.__init__.__globals__["_twin"] is not None  # the path under test
    made = Wide(name="a", size=3, tags=["x"])
    assert type(made) is Wide and isinstance(made, Wide)
    assert (made.name, made.count, made.size, made.label, made.tags) == ("a", 0, 3, None, ["x"])
    assert made == Wide(name="a", size=3, tags=["x"]) and made != Wide(name="a")
    assert repr(made) == "Wide(name='a', count=0, size=3, label=None, tags=['x'])"
    assert Wide(name="b").tags is not Wide(name="b").tags
    assert dataclasses.replace(made, count=2) == Wide(name="a", count=2, size=3, tags=["x"])
    assert copy.copy(made) == made and pickle.loads(pickle.dumps(made)) == made
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.count = 1  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'name'"):
        Wide()  # type: ignore[call-arg]


def test_fast_init_through_the_twin_keeps_a_subclass_instance_of_its_class() -> None:
    made = Narrower(name="a", count=2)
    assert type(made) is Narrower
    assert (made.name, made.count, made.tags) == ("a", 2, [])
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.count = 1  # type: ignore[misc]


def test_row_builder_through_the_twin_makes_frozen_instances_of_the_class() -> None:
    build = row_builder(Wide, ["size", "name"], {"label": "c"})
    made = build((4, "a"))
    assert type(made) is Wide
    assert made == Wide(name="a", size=4, label="c")
    assert build((1, "b")).tags is not build((1, "b")).tags
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.size = 1  # type: ignore[misc]
