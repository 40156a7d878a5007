"""Pure flow-control rules: why a queued job waits, and the keys enqueue computes.

The store enforces the limits inside its claim transaction; these rules only explain a
wait from the facts the store read (`WaitFacts`) and derive keys from a request, with no
I/O, so they are tested as tables.
"""

from __future__ import annotations

import hashlib
import json
import string
from dataclasses import dataclass
from typing import Any

from .clock import from_ms
from .errors import InvalidOptionError
from .flow_records import QueueSettings, WaitInfo, WaitReason
from .records import Job, JobState


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueLoad:
    """A queue's settings with what holds it now."""

    settings: QueueSettings
    running: int = 0
    """Its jobs started and not finished, store-wide."""
    window_starts: int = 0
    """Starts within its rate limit's window now (0 without a limit)."""
    window_frees_at: int | None = None
    """When the oldest start in the window leaves it (epoch ms), with a rate limit."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitFacts:
    """What the store knows about one job and what might hold it."""

    job: Job
    queue: QueueLoad
    waiting_on: int | None = None
    """The job it depends on, while that one has not completed."""
    key_running: int = 0
    """Jobs with its concurrency key running now, store-wide."""
    worker_busy: bool = False
    """Its named worker runs another job now."""


def explain(facts: WaitFacts, now: int) -> WaitInfo:
    """Why `facts.job` is not running as of `now`: every reason that holds, in the order an
    operator would act on them, with the time the time-bound ones end."""
    job = facts.job
    if job.state is not JobState.QUEUED:
        return WaitInfo(job_id=job.id, state=job.state, text=_not_waiting(job.state))
    reasons: list[tuple[WaitReason, str]] = []
    until: list[int] = []
    if job.expires_at is not None and job.expires_at <= now:
        reasons.append((WaitReason.EXPIRED, f"expired at {_when(job.expires_at)}; never starts"))
    if facts.waiting_on is not None:
        reasons.append((WaitReason.DEPENDENCY, _blocked(job, facts.waiting_on)))
    if job.run_after > now:
        until.append(job.run_after)
        seconds = _seconds(job.run_after - now)
        if job.attempts:
            reasons.append((WaitReason.RETRY, f"retry {job.attempts + 1} in {seconds}"))
        else:
            reasons.append((WaitReason.SCHEDULED, f"scheduled to run in {seconds}"))
    reasons += _queue_reasons(facts, now, until)
    if job.concurrency_key is not None and facts.key_running >= job.concurrency_limit:
        reasons.append(
            (WaitReason.CONCURRENCY_KEY,
             f"waiting on key '{job.concurrency_key}' ({facts.key_running} running, "
             f"limit {job.concurrency_limit})")
        )  # fmt: skip
    if facts.worker_busy:
        reasons.append((WaitReason.WORKER_BUSY, f"worker '{job.worker}' runs another job"))
    if not reasons:
        reasons.append((WaitReason.READY, "ready: an engine running its command starts it next"))
    text = "; ".join(words for _, words in reasons)
    if job.expires_at is not None and job.expires_at > now:
        text += f"; expires at {_when(job.expires_at)}"
    return WaitInfo(
        job_id=job.id, state=job.state, reasons=[r for r, _ in reasons], text=text,
        until=min(until) if until else None, expires_at=job.expires_at,
        blocked_by=facts.waiting_on if facts.waiting_on is None or facts.waiting_on > 0 else None,
    )  # fmt: skip


def _blocked(job: Job, waiting_on: int) -> str:
    """The parent a job waits on in words: a job, or (as minus its number) a batch."""
    if waiting_on < 0:
        return f"blocked by batch '{job.depends_on_batch}' (it has not finished)"
    return f"blocked by job {waiting_on} (it has not completed)"


def _queue_reasons(facts: WaitFacts, now: int, until: list[int]) -> list[tuple[WaitReason, str]]:
    load = facts.queue
    settings = load.settings
    name = settings.name
    reasons: list[tuple[WaitReason, str]] = []
    if settings.paused:
        reasons.append((WaitReason.PAUSED, f"queue '{name}' is paused"))
    rate = settings.rate_limit
    if rate is not None and load.window_starts >= rate.limit:
        words = f"queue '{name}' is rate limited ({load.window_starts} started, limit {rate})"
        if load.window_frees_at is not None:
            until.append(load.window_frees_at)
            words += f"; next start in {_seconds(max(0, load.window_frees_at - now))}"
        reasons.append((WaitReason.RATE_LIMITED, words))
    concurrency = 1 if facts.job.worker else settings.concurrency
    if not facts.job.worker and concurrency is not None and load.running >= concurrency:
        reasons.append(
            (WaitReason.QUEUE_FULL,
             f"queue '{name}' is full ({load.running} running, concurrency {concurrency})")
        )  # fmt: skip
    return reasons


def _not_waiting(state: JobState) -> str:
    if state is JobState.STARTED:
        return "running"
    if state is JobState.EXECUTED:
        return "ran; its callback or reply is under way"
    return f"not waiting: {state}"


def _seconds(ms: int) -> str:
    if ms < 1000:
        return f"{ms} ms"
    if ms < 120_000:
        return f"{ms / 1000:.1f} s"
    if ms < 7_200_000:
        return f"{ms / 60_000:.0f} min"
    return f"{ms / 3_600_000:.1f} h"


def _when(ms: int) -> str:
    return from_ms(ms).strftime("%Y-%m-%d %H:%M:%SZ")


# -- keys computed at enqueue ---------------------------------------------------------------


def canonical_json(request_body: str) -> str:
    """A request's JSON with sorted keys and no spaces: the same for equal requests
    whatever produced them (a dataclass here, a dict from the CLI there)."""
    return json.dumps(json.loads(request_body), sort_keys=True, separators=(",", ":"))


def unique_key_for(command: str, request_body: str) -> str:
    """The key that `unique_while_active` gives a job: its command and a hash of its
    request's canonical JSON."""
    digest = hashlib.sha256(canonical_json(request_body).encode()).hexdigest()[:32]
    return f"{command}:{digest}"


def key_fields(template: str) -> list[str]:
    """The request fields a key template such as `user:{user_id}` reads."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise InvalidOptionError(f"concurrency_key template '{template}': {error}") from None
    return [name for _, name, _, _ in parsed if name is not None]


def key_from_template(template: str, request_body: str, command: str) -> str:
    """A concurrency key from a template over the request's fields (`user:{user_id}`)."""
    fields = key_fields(template)
    if not fields:
        return template
    request: Any = json.loads(request_body)
    if not isinstance(request, dict):
        raise InvalidOptionError(
            f"command '{command}': its concurrency_key '{template}' reads request fields, "
            "but the request is not an object"
        )
    missing = [name for name in fields if name not in request]
    if missing:
        raise InvalidOptionError(
            f"command '{command}': its concurrency_key '{template}' needs the request "
            f"field(s) {', '.join(missing)}"
        )
    return template.format_map(request)


# -- a declared command's flow options, as the store keeps them -----------------------------

DECLARED_FLOW_FIELDS = (
    "queue", "priority", "concurrency_key", "concurrency_key_computed", "concurrency_limit",
    "unique_while_active", "expires_in_secs",
)  # fmt: skip
"""`CommandDefinition` fields kept together as one JSON value per declared command."""


def declared_flow_to_json(definition: Any) -> str | None:
    """A `CommandDefinition`'s flow options as JSON (only those set); None when none is."""
    data = {
        name: getattr(definition, name)
        for name in DECLARED_FLOW_FIELDS
        if getattr(definition, name) not in (None, False)
    }
    return json.dumps(data, sort_keys=True) if data else None


def declared_flow_from_json(text: str | None) -> dict[str, Any]:
    """Keyword arguments of `CommandDefinition` read back from `declared_flow_to_json`."""
    if not text:
        return {}
    data = json.loads(text)
    return {name: data[name] for name in DECLARED_FLOW_FIELDS if name in data}


# -- spreading a claim's batch over queues --------------------------------------------------

MIN_PER_QUEUE = 8
"""The smallest share of a batch a queue is offered in a claim's first round."""

MAX_ROUNDS = 8
"""Most claim statements one claim runs (in one transaction)."""


def per_queue_cap(limit: int, queues: int) -> int:
    """How many jobs each queue may give a claim's first round: its share of the batch, so
    that a claim reads about `limit` candidates however many queues have work (each queue is
    scanned apart; a cap of the whole batch would read `limit` times the queues)."""
    if queues <= 1:
        return limit
    return min(limit, max(MIN_PER_QUEUE, -(-limit // queues)))


def next_cap(cap: int, limit: int, claimed: int, most_from_one_queue: int, parked: int) -> int:
    """The per-queue cap of the claim's next round, or 0 when the claim is done.

    Another round runs while the batch is not full and either a queue gave all its cap
    allowed (it may have more; the next round offers it the rest of the batch) or keyed jobs
    were parked (they made room for the jobs behind them)."""
    left = limit - claimed
    if left <= 0:
        return 0
    if most_from_one_queue >= cap and cap < limit:
        return left
    return min(cap, left) if parked else 0
