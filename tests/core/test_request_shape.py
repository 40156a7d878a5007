"""Request shapes: described from dataclasses, pydantic models and TypedDicts; JSON checked."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NotRequired, TypedDict

import pydantic
import pytest

from jobs_core import InvalidRequestError, RequestShape
from jobs_core.request_shape import check_request, describe


class Color(enum.Enum):
    RED = "red"


@dataclass
class Address:
    street: str


@dataclass
class Order:
    id: int
    total: float
    paid: bool
    address: Address
    lines: list[str]
    at: datetime
    color: Color
    note: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    anything: Any = None
    either: int | str = 0


class Customer(pydantic.BaseModel):
    name: str
    email: str = pydantic.Field(alias="e-mail")
    age: int | None = None


class Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    name: str


class Movie(TypedDict):
    title: str
    year: NotRequired[int]


def test_describe_dataclass() -> None:
    assert describe(Order) == RequestShape(
        type_name="tests.core.test_request_shape.Order",
        required={"id": "integer", "total": "number", "paid": "boolean", "address": "object",
                  "lines": "array", "at": "string", "color": "any"},
        optional={"note": "string|null", "tags": "object", "anything": "any", "either": "any"},
    )  # fmt: skip


def test_describe_pydantic_models_use_aliases_and_their_extra_policy() -> None:
    assert describe(Customer) == RequestShape(
        type_name="tests.core.test_request_shape.Customer",
        required={"name": "string", "e-mail": "string"},
        optional={"age": "integer|null"},
        closed=False,
    )
    assert describe(Strict) == RequestShape(
        type_name="tests.core.test_request_shape.Strict", required={"name": "string"}
    )


def test_describe_typed_dict() -> None:
    assert describe(Movie) == RequestShape(
        type_name="tests.core.test_request_shape.Movie",
        required={"title": "string"},
        optional={"year": "integer"},
    )


@pytest.mark.parametrize("target", [dict, dict[str, int], Any, int, Order | None, None])
def test_describe_leaves_other_types_unchecked(target: Any) -> None:
    assert describe(target) is None


SHAPE = RequestShape(
    type_name="app.Mail",
    required={"to": "string", "n": "number"},
    optional={"cc": "array|null"},
)

PROBLEMS = {
    "missing": ({"to": "a"}, {"n": "missing (required)"}),
    "unknown": ({"to": "a", "n": 1, "bcc": []}, {"bcc": "unknown field"}),
    "mistyped": ({"to": 5, "n": "1"}, {"to": "expected string, got integer",
                                         "n": "expected number, got string"}),
    "bool is not a number": ({"to": "a", "n": True}, {"n": "expected number, got boolean"}),
    "null where allowed": ({"to": "a", "n": 1.5, "cc": None}, {}),
    "null where not": ({"to": None, "n": 1}, {"to": "expected string, got null"}),
}  # fmt: skip


@pytest.mark.parametrize(("data", "problems"), PROBLEMS.values(), ids=PROBLEMS.keys())
def test_check_request_names_every_problem(data: Any, problems: dict[str, str]) -> None:
    if not problems:
        check_request(SHAPE, data, "mail")
        return
    with pytest.raises(InvalidRequestError) as refused:
        check_request(SHAPE, data, "mail")
    assert refused.value.field_errors == problems
    assert str(refused.value).startswith("the request of command 'mail' does not fit app.Mail: ")
    assert refused.value.code == "InvalidRequest"


def test_open_shape_allows_unknown_fields() -> None:
    check_request(describe(Customer) or SHAPE, {"name": "a", "e-mail": "b", "x": 1}, "c")
