"""Completions for the filter input: query keys, and the known values of the key being typed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual.suggester import Suggester

from jobs_core.query import KEYS, STATE_WORDS

AGES = ("15m", "1h", "2h", "24h", "7d")
"""Values offered after `since:` and `before:`."""

KEY_WORDS = [key.replace("NAME", "") if key.startswith("args.") else f"{key}:" for key in KEYS]
"""What a key completes to (`args.` waits for the argument's name)."""


def suggest(value: str, known: Mapping[str, Sequence[str]]) -> str | None:
    """`value` completed at its last word: a key (`sta` → `state:`), or a value of the key
    being typed (`command:imp` → `command:import_orders`), from `known` values per key."""
    head, _, word = value.rpartition(" ")
    sign = "-" if word.startswith("-") else ""
    body = word[len(sign) :]
    if not body:
        return None
    key, colon, partial = body.partition(":")
    if not colon:
        options = [k for k in KEY_WORDS if k.startswith(body.lower()) and k != body.lower()]
        return _join(head, sign + options[0]) if options else None
    values = list(STATE_WORDS) if key == "state" else list(known.get(key, ()))
    if key in ("since", "before"):
        values = list(AGES)
    last = partial.rpartition(",")[2]
    if not last:
        return None
    options = [v for v in values if v.startswith(last) and v != last]
    if not options:
        return None
    return _join(head, f"{sign}{key}:{partial[: len(partial) - len(last)]}{options[0]}")


def _join(head: str, word: str) -> str:
    return f"{head} {word}" if head else word


class QuerySuggester(Suggester):
    """A Suggester over `known`, which the screen keeps up to date (commands, workers)."""

    def __init__(self, known: Mapping[str, Sequence[str]]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.known = known

    async def get_suggestion(self, value: str) -> str | None:
        return suggest(value, self.known)
