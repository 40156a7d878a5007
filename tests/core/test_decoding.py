"""`from_json` rebuilds requests of every supported shape, the same on first and later use
(converters are made once per type and cached), and names what does not fit."""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import pytest

from jobs_core.errors import InvalidRequestError
from jobs_core.serialization import from_json, loads


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Node:
    name: str
    children: list[Node] = dataclasses.field(default_factory=list)
    """A field naming its own class: its hints resolve on first use, not at import."""


@dataclasses.dataclass
class Order:
    id: uuid.UUID
    when: datetime
    day: date
    total: Decimal
    colour: Colour
    note: str | None = None
    tags: dict[str, Any] = dataclasses.field(default_factory=dict)


ORDER_JSON = (
    '{"id": "12345678-1234-5678-1234-567812345678", "when": "2026-01-02T03:04:05",'
    ' "day": "2026-01-02", "total": "9.50", "colour": "red", "tags": {"a": [1]}}'
)
ORDER = Order(
    id=uuid.UUID("12345678-1234-5678-1234-567812345678"), when=datetime(2026, 1, 2, 3, 4, 5),
    day=date(2026, 1, 2), total=Decimal("9.50"), colour=Colour.RED, tags={"a": [1]},
)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "target", "expected"),
    [
        ('{"i": 1}', dict[str, Any], {"i": 1}),
        ('{"i": "2026-01-02"}', dict[str, date], {"i": date(2026, 1, 2)}),
        ("[1, 2]", tuple[int, ...], (1, 2)),
        ('["red"]', set[Colour], {Colour.RED}),
        ("null", Order, None),
        ('"red"', Colour | None, Colour.RED),
        ("[1]", Annotated[list[int], ["unhashable"]], [1]),
        (ORDER_JSON, Order, ORDER),
        (
            '{"name": "a", "children": [{"name": "b"}]}',
            Node,
            Node(name="a", children=[Node(name="b")]),
        ),
    ],
)
def test_from_json_rebuilds_each_shape_on_first_and_later_use(
    body: str, target: Any, expected: Any
) -> None:
    assert from_json(body, target) == expected
    assert from_json(body, target) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"name": "a", "extra": 1}', "Node: extra: unknown field"),
        ('{"children": []}', "Node: name: missing (required)"),
        ('{"extra": 1}', "Node: extra: unknown field; name: missing (required)"),
        ("[1]", "Node: expected an object, got list"),
    ],
)
def test_from_json_names_the_fields_that_do_not_fit(body: str, message: str) -> None:
    for _ in range(2):  # the cached converter refuses as the first one did
        with pytest.raises(InvalidRequestError, match=re.escape(message)):
            from_json(body, Node, what="the request")


def test_from_json_refuses_a_list_for_a_dict() -> None:
    with pytest.raises(InvalidRequestError, match="does not fit"):
        from_json("[1]", dict[str, Any])


@pytest.mark.parametrize(
    "text",
    ['{"i": 1}', "[1, 2]", '"s"', "3", "null", ' {"i": 1} ', '{"i": 1}\n', "1.5e3", "NaN"],
)
def test_loads_reads_what_json_loads_reads(text: str) -> None:
    got, expected = loads(text), json.loads(text)
    assert repr(got) == repr(expected)


@pytest.mark.parametrize("text", ["", "{", '{"i": 1} x', '{"i": }', "\ufeff{}", "[1,]", " "])
def test_loads_refuses_what_json_loads_refuses_with_its_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as got:
        loads(text)
    assert (got.value.msg, got.value.pos) == (expected.value.msg, expected.value.pos)
