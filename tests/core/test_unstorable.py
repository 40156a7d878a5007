"""What the stores cannot hold is caught in Python, naming it: a value that contains itself
or nests past the stack, and text with a lone surrogate (refused in requests and results,
escaped in the text a handler writes)."""

from __future__ import annotations

from typing import Any

import pytest

from jobs_core import UnserialisableRequestError
from jobs_core.serialization import request_to_json, requests_to_json, storable_text, to_json


def nested(depth: int) -> list[Any]:
    outer: list[Any] = []
    inner = outer
    for _ in range(depth):
        inner.append([])
        inner = inner[0]
    return outer


def test_a_value_that_contains_itself_is_refused_by_name() -> None:
    looped: dict[str, Any] = {}
    looped["again"] = looped
    with pytest.raises(
        UnserialisableRequestError, match=r"^x cannot be stored as JSON: it contains itself$"
    ):
        to_json(looped, what="x")
    with pytest.raises(UnserialisableRequestError, match="it contains itself"):
        request_to_json([looped], "send")


def test_a_value_nested_past_the_stack_is_refused_by_name() -> None:
    with pytest.raises(UnserialisableRequestError, match="it is nested too deeply"):
        requests_to_json([{}, nested(100_000)], "send")


@pytest.mark.parametrize("text", ["\udcff", "caf\udce9", "\ud800 and more"])
def test_a_lone_surrogate_is_refused_in_a_request_and_escaped_in_handler_text(text: str) -> None:
    with pytest.raises(UnserialisableRequestError, match="a lone surrogate that UTF-8 cannot"):
        request_to_json({"name": text}, "send")
    with pytest.raises(UnserialisableRequestError, match="a lone surrogate that UTF-8 cannot"):
        requests_to_json([{"name": "ok"}, {"name": text}], "send")
    escaped = storable_text(text)
    escaped.encode()  # storable now
    assert escaped == text.encode(errors="backslashreplace").decode()


def test_text_utf8_can_encode_is_kept_as_it_is() -> None:
    for text in ("plain", "café", "日本", "emoji 🎉"):
        assert storable_text(text) is text
        assert request_to_json({"t": text}, "send") == f'{{"t":"{text}"}}'
    assert requests_to_json([{"t": "é"}, {"t": "a"}], "send") == ['{"t":"é"}', '{"t":"a"}']
