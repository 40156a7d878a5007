"""Cron expressions: fields checked with field-naming messages, slots in a time zone, words."""

from __future__ import annotations

import calendar
import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from cron_descriptor import CasingTypeEnum, ExpressionDescriptor, Options
from croniter import CroniterError, croniter

from .clock import from_ms, to_ms
from .errors import InvalidScheduleError

FIELD_COUNT_HELP = "expected 5 (min hour dom mon dow) or 6 (sec min hour dom mon dow)"

# English names, not `calendar`'s: those follow the process locale.
_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTHS = {name[:3].upper(): i for i, name in enumerate(_MONTH_NAMES, start=1)}
_DAYS = {name[:3].upper(): i for i, name in enumerate(_DAY_NAMES)}
# February counts 29 days: a 29 February schedule is rare, not impossible.
_MAX_DAYS = {m: 29 if m == 2 else calendar.monthrange(2023, m)[1] for m in range(1, 13)}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """What one cron field accepts."""

    name: str
    """The field's name in error messages."""
    low: int
    """Smallest value."""
    high: int
    """Largest value."""
    names: Mapping[str, int] = field(default_factory=dict)
    """Upper-case names accepted for values (JAN, MON)."""
    name_kind: str = ""
    """What a name is called in messages ("month name")."""
    day_field: bool = False
    """Whether `?` (an alias of `*`) is allowed."""


SECOND = FieldSpec("second", 0, 59)
MINUTE = FieldSpec("minute", 0, 59)
HOUR = FieldSpec("hour", 0, 23)
DAY_OF_MONTH = FieldSpec("day-of-month", 1, 31, day_field=True)
MONTH = FieldSpec("month", 1, 12, _MONTHS, "month name")
DAY_OF_WEEK = FieldSpec("day-of-week", 0, 7, _DAYS, "day name", day_field=True)
SPECS = (SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)


class _FieldError(Exception):
    """A problem with `piece` of a field; turned into an `InvalidScheduleError` by the caller."""

    def __init__(self, piece: str, problem: str) -> None:
        super().__init__(problem)
        self.piece = piece
        self.problem = problem


@dataclass(frozen=True, slots=True, kw_only=True)
class CronFields:
    """A validated cron expression, its seconds field made explicit."""

    expr: str
    """The expression as written, whitespace collapsed to single spaces."""
    has_seconds: bool
    """Whether the expression has the optional leading seconds field."""
    fields: tuple[str, str, str, str, str, str]
    """Second, minute, hour, day-of-month, month, day-of-week (second is "0" if omitted)."""
    values: tuple[frozenset[int], ...]
    """The values each field matches, in the same order (day-of-week 7 folded to 0)."""

    @property
    def is_interval_based(self) -> bool:
        """Whether second, minute or hour use `*`, a range or a step.

        Such a schedule means "periodically" and keeps firing through a repeated (fall-back)
        hour; one at fixed times fires once there. This is Cronos's rule (Vixie cron's is close).
        """
        return any(mark in piece for piece in self.fields[:3] for mark in "*-/")


def parse_cron(expr: str) -> CronFields:
    """Check `expr` field by field and against croniter; raise `InvalidScheduleError`.

    Accepts 5 fields (`min hour dom mon dow`) or 6 with seconds first
    (`sec min hour dom mon dow`, as Quartz and Cronos write it). Each field is a list of
    `*`, `N`, `N-M`, `*/S`, `N/S` or `N-M/S`; months and weekdays take names (JAN, MON);
    day-of-week 0 and 7 are Sunday; `?` means `*` in the day fields.
    """
    text = " ".join(expr.split())
    parts = text.split(" ") if text else []
    if len(parts) not in (5, 6):
        raise InvalidScheduleError(f"cron '{text}' has {len(parts)} fields; {FIELD_COUNT_HELP}")
    six = ["0", *parts] if len(parts) == 5 else parts
    values = tuple(
        _checked_field(text, piece, spec) for piece, spec in zip(six, SPECS, strict=True)
    )
    _check_day_exists(text, six, values)
    _check_with_croniter(text, has_seconds=len(parts) == 6)
    return CronFields(
        expr=text,
        has_seconds=len(parts) == 6,
        fields=(six[0], six[1], six[2], six[3], six[4], six[5]),
        values=values,
    )


def _checked_field(expr: str, text: str, spec: FieldSpec) -> frozenset[int]:
    try:
        return _field_values(text, spec)
    except _FieldError as error:
        where = f"'{text}'" if error.piece == text else f"'{text}': '{error.piece}'"
        raise InvalidScheduleError(
            f"invalid cron '{expr}': {spec.name} field {where} {error.problem}"
        ) from None


def _field_values(text: str, spec: FieldSpec) -> frozenset[int]:
    """The values a field matches; raises `_FieldError` naming the bad piece."""
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _FieldError(text, "has an empty list item")
        values.update(_item_values(item, spec))
    if spec is DAY_OF_WEEK and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


def _item_values(item: str, spec: FieldSpec) -> range:
    base, slash, step_text = item.partition("/")
    step = _step(item, step_text, spec) if slash else 1
    if base in ("*", "?"):
        if base == "?" and not spec.day_field:
            raise _FieldError(item, "uses '?', which only the day fields accept")
        return range(spec.low, spec.high + 1, step)
    first_text, dash, last_text = base.partition("-")
    if not first_text or (dash and not last_text):
        raise _FieldError(item, "is missing a range bound")
    first = _value(first_text, spec)
    if dash:
        last = _value(last_text, spec)
        if first > last:
            raise _FieldError(
                item, f"is a backwards range; write {first}-{spec.high},{spec.low}-{last}"
            )
    else:
        last = spec.high if slash else first
    return range(first, last + 1, step)


def _step(item: str, text: str, spec: FieldSpec) -> int:
    if not (text.isascii() and text.isdigit()):
        raise _FieldError(item, f"has step '{text}', which is not a number")
    step = int(text)
    if not 1 <= step <= spec.high:
        raise _FieldError(item, f"has step {step}, out of range 1-{spec.high}")
    return step


def _value(text: str, spec: FieldSpec) -> int:
    if text.upper() in spec.names:
        return spec.names[text.upper()]
    if not (text.isascii() and text.isdigit()):
        kind = f"a number or {spec.name_kind}" if spec.name_kind else "a number"
        raise _FieldError(text, f"is not {kind}")
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise _FieldError(text, f"is out of range {spec.low}-{spec.high}")
    return value


def _check_day_exists(expr: str, six: list[str], values: tuple[frozenset[int], ...]) -> None:
    # With a weekday restriction, days match by weekday too (Vixie's OR), so some day exists.
    if six[5] not in ("*", "?"):
        return
    if min(values[3]) > max(_MAX_DAYS[m] for m in values[4]):
        raise InvalidScheduleError(
            f"invalid cron '{expr}': day-of-month field '{six[3]}' "
            f"never occurs in month field '{six[4]}'"
        )


def _check_with_croniter(expr: str, *, has_seconds: bool) -> None:
    try:
        croniter(expr, second_at_beginning=has_seconds)
    except (CroniterError, ValueError) as error:
        raise InvalidScheduleError(f"invalid cron '{expr}': {error}") from error


# --- slots on a wall clock -------------------------------------------------------------


def cron_slots(cron: CronFields, zone: ZoneInfo, after_ms: int) -> Iterator[int]:
    """Cron slots strictly after `after_ms`, ascending, each instant once.

    Wall times come from croniter in naive local time; each maps to one instant, two in a
    repeated hour, or the end of the gap when skipped. Only the second pass of a repeated
    hour maps out of order, so an instant is yielded once no later wall can map below it.
    """
    pending: list[int] = []
    last = after_ms
    for wall in _walls(cron, _search_start(after_ms, zone)):
        instants = _instants(wall, zone, both_passes=cron.is_interval_based)
        while pending and pending[0] <= instants[0]:
            slot = heapq.heappop(pending)
            if slot > last:
                last = slot
                yield slot
        for instant in instants:
            heapq.heappush(pending, instant)


def _walls(cron: CronFields, start: datetime) -> Iterator[datetime]:
    """Naive wall times matching `cron`, strictly after `start`."""
    times = croniter(cron.expr, start, second_at_beginning=cron.has_seconds)
    while True:
        wall: datetime = times.get_next(datetime)
        yield wall


def _search_start(after_ms: int, zone: ZoneInfo) -> datetime:
    wall = from_ms(after_ms).astimezone(zone).replace(tzinfo=None, fold=0)
    # Inside the first pass of a repeated hour, earlier wall times come round again later.
    repeat_ms = max(0, _utc_ms(wall, zone, 1) - _utc_ms(wall, zone, 0))
    start = wall - timedelta(milliseconds=repeat_ms) - timedelta(seconds=1)
    return start.replace(microsecond=0)


def _instants(wall: datetime, zone: ZoneInfo, *, both_passes: bool) -> list[int]:
    """The instants a wall time stands for, ascending."""
    first, second = _utc_ms(wall, zone, 0), _utc_ms(wall, zone, 1)
    if first == second:
        return [first]
    if first < second:
        return [first, second] if both_passes else [first]
    # PEP 495: in a gap, fold=0 uses the offset before it, so `second` lies before the jump.
    return [_gap_end(second, first, zone)]


def _gap_end(before_ms: int, after_ms: int, zone: ZoneInfo) -> int:
    """The instant the clock jumps forward, between two instants on either side of it."""
    offset = _offset(before_ms, zone)
    while after_ms - before_ms > 1:
        middle = (before_ms + after_ms) // 2
        if _offset(middle, zone) == offset:
            before_ms = middle
        else:
            after_ms = middle
    return after_ms


def _offset(ms: int, zone: ZoneInfo) -> timedelta | None:
    return from_ms(ms).astimezone(zone).utcoffset()


def _utc_ms(wall: datetime, zone: ZoneInfo, fold: int) -> int:
    return to_ms(wall.replace(tzinfo=zone, fold=fold))


# --- words -------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def describe_cron(cron: CronFields) -> str:
    """The expression in words, by cron-descriptor (every field, `L`, `W`, `#`, ranges),
    in English with a 24-hour clock; `cron: <expr>` if it cannot say."""
    # Seven fields with the seconds first and any year: cron-descriptor reads a six-field
    # expression as seconds-first only when its last field does not look like a year.
    seven = " ".join(cron.fields) + " *"
    try:
        return str(ExpressionDescriptor(seven, _WORDS).get_description())
    except Exception:  # the describer's own parser refused what ours accepts
        return f"cron: {cron.expr}"


_WORDS = Options(
    casing_type=CasingTypeEnum.Sentence, use_24hour_time_format=True, locale_code="en_US"
)
