"""Panes of the job detail screen: highlighted JSON, the log tail, and the field list."""

from __future__ import annotations

import json
from collections.abc import Callable

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.content import Content
from textual.highlight import highlight
from textual.widgets import Log, Static

from jobs_core import TERMINAL_STATES, BatchStatus, Job, JobResult, JobSummary
from jobs_tui.formatting import duration, relative, timestamp


def pretty_json(text: str | None) -> Content:
    """JSON text indented and highlighted with theme colours; other text shown as is."""
    if text is None:
        return Content("(none)")
    try:
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return Content(text)
    return highlight(text, language="json")


_NOTHING = object()
"""What a `Pane` shows before its first `show_value`: equal to no value."""


class Pane(Static):
    """A Static updated only when what it shows changes: each update lays the screen out
    again, and the detail of a running job refreshes every second (`tui_cost.py`)."""

    _shown: object = _NOTHING
    """What the pane shows, as given to `show_value`."""

    def show_value(
        self, value: object, render: Callable[[], RenderableType | str] | None = None
    ) -> None:
        """Show `render()` (else `value`, a text) unless `value`, what it is rendered from,
        is already shown."""
        if value == self._shown:
            return
        self._shown = value
        self.update(render() if render is not None else str(value))


class JsonPane(Pane):
    """A request or response body."""

    def show(self, text: str | None) -> None:
        self.show_value(text, lambda: pretty_json(text))


class LogTail(Log):
    """The job's log lines; only new lines are written, so a running job's tail follows."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, auto_scroll=True, highlight=False)
        self._written = ""

    def show(self, logs: str) -> None:
        if logs == self._written:
            return
        if logs.startswith(self._written):
            new = logs[len(self._written) :]
        else:  # the log was trimmed at its size limit: start over
            self.clear()
            new = logs
        self._written = logs
        self.write(new if new.endswith("\n") or not new else new + "\n")


LOGS_CUT = "oldest lines dropped at the size limit"
"""What the detail says of a job whose logs were truncated (`Job.logs_truncated`)."""


def log_title(job: Job | None) -> str:
    """The log pane's title; it says when the log holds only its newest lines."""
    if job is not None and job.logs_truncated:
        return "Log (newest lines only: the oldest were dropped)"
    return "Log"


def job_fields(result: JobResult, now: int | None = None) -> list[tuple[str, str]]:
    """The job's fields that have a value, as (name, text) pairs in reading order; times read
    as times, meta and args one per line."""
    job = result.job
    summary = result.summary
    if job is None:
        return [("id", str(summary.id)), ("state", str(summary.state)),
                ("note", "its month database was removed; only the summary is left")]  # fmt: skip
    pairs = [
        *_identity(job), *_flow(job, now), *_extra(job), *_timing(job, now), *_execution(job),
        *_types(job),
    ]  # fmt: skip
    return [(name, value) for name, value in pairs if value]


def _flow(job: Job, now: int | None) -> list[tuple[str, str]]:
    """Its queue and the flow options it was enqueued with."""
    key = job.concurrency_key or ""
    if key and job.concurrency_limit > 1:
        key += f" (at most {job.concurrency_limit} at once)"
    policy = job.retry_policy
    retry = ""
    if policy is not None:
        retry = f"{policy.backoff}"
        if policy.retry_on:
            retry += "; retried on " + ", ".join(str(t) for t in policy.retry_on)
        if policy.no_retry_on:
            retry += "; never on " + ", ".join(str(t) for t in policy.no_retry_on)
    return [
        ("queue", job.queue), ("priority", str(job.priority) if job.priority else ""),
        ("expires", _when(job.expires_at, now)), ("concurrency key", key),
        ("unique key", job.unique_key or ""), ("retry policy", retry),
    ]  # fmt: skip


def fields_table(pairs: list[tuple[str, str]], name_style: str) -> Table:
    """Name and value columns; long values wrap inside the pane instead of being cut."""
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column(style=name_style, no_wrap=True)
    table.add_column(overflow="fold", ratio=1)
    for name, value in pairs:
        table.add_row(name, Text(value))
    return table


def _identity(job: Job) -> list[tuple[str, str]]:
    return [
        ("id", str(job.id)), ("command", job.command), ("state", str(job.state)),
        ("worker", job.worker or "(default)"), ("ref id", job.ref_id or ""),
        ("tag", job.tag or ""), ("batch", job.batch_id or ""),
        ("created by", job.created_by or ""), ("user", job.user_id or ""),
        ("parent", _id(job.parent_id)), ("depends on", _id(job.depends_on)),
        ("callback", job.callback or ""), ("reply to", job.reply_to or ""),
    ]  # fmt: skip


def _types(job: Job) -> list[tuple[str, str]]:
    return [("request type", job.request_type), ("response type", job.response_type or "")]


def _timing(job: Job, now: int | None) -> list[tuple[str, str]]:
    took = None
    if job.started_date is not None and job.completed_date is not None:
        took = job.completed_date - job.started_date
    run_after = job.run_after if job.run_after != job.created_date else None
    activity = job.last_activity_date
    if activity in (job.completed_date, job.started_date):
        activity = None  # says nothing the other times do not
    return [
        ("created", _when(job.created_date, now)), ("run after", _when(run_after, now)),
        ("started", _when(job.started_date, now)), ("finished", _when(job.completed_date, now)),
        ("took", duration(took)), ("notified", _notified(job, now)),
        ("last activity", _when(activity, now)),
    ]  # fmt: skip


def _notified(job: Job, now: int | None) -> str:
    """When its reply or callback was delivered, or why its reply was not."""
    if job.notify_error:
        return f"failed: {job.notify_error}"
    return _when(job.notified_date, now)


def _execution(job: Job) -> list[tuple[str, str]]:
    progress = "" if job.progress is None else f"{job.progress * 100:.0f}%"
    if progress and job.progress_estimated:
        progress += " (estimated)"
    # The engine running it now; a finished job keeps the engine of its last attempt, which
    # the attempts timeline shows with the others.
    engine = job.owner if job.owner and job.state not in TERMINAL_STATES else ""
    return [
        ("attempts", f"{job.attempts} of {job.retry_limit + 1}"),
        ("timeout", f"{job.timeout_secs:g}s"), ("progress", progress),
        ("status", job.status or ""), ("engine", engine),
        ("logs", LOGS_CUT if job.logs_truncated else ""),
    ]  # fmt: skip


def _extra(job: Job) -> list[tuple[str, str]]:
    """Meta (written by the engine) and args (given at enqueue), one field each."""
    fields = [(key.replace("_", " "), _meta_value(key, value))
              for key, value in sorted(job.meta.items())]  # fmt: skip
    fields += [(f"args.{key}", value) for key, value in sorted(job.args.items())]
    return fields


def _meta_value(key: str, value: str) -> str:
    """Engine meta holding an epoch-ms time (`scheduled_for`) reads as a time."""
    if key.endswith(("_for", "_at", "_date")) and value.isdigit():
        return timestamp(int(value))
    return value


def _when(ms: int | None, now: int | None) -> str:
    """A time, with how far it is from now when it is in the future (a due time)."""
    if ms is None:
        return ""
    if now is None or ms <= now:
        return timestamp(ms)
    return f"{timestamp(ms)} ({relative(ms, now)})"


def _id(value: int | None) -> str:
    return "" if value is None else f"#{value}"


def error_text(job: Job | None) -> str:
    """The error and its traceback, or a dash when the job has none."""
    if job is None or job.error is None:
        return "-"
    error = job.error
    fields = "".join(f"\n  {k}: {v}" for k, v in sorted(error.field_errors.items()))
    stack = f"\n\n{error.stack.rstrip()}" if error.stack else ""
    return f"{error.code}: {error.message}{fields}{stack}"


def relations_text(dependents: list[JobSummary], batch: BatchStatus | None) -> str:
    """Dependents and batch progress in a few lines."""
    lines = ["Dependents: " + (", ".join(f"{d.id} {d.command} ({d.state})" for d in dependents)
                               or "none")]  # fmt: skip
    if batch is not None:
        counts = ", ".join(f"{state}: {n}" for state, n in sorted(batch.counts.items()) if n)
        name = f" '{batch.name}'" if batch.name else ""
        lines.append(
            f"Batch {batch.batch_id}{name} ({batch.state}): {batch.done}/{batch.total} done "
            f"({counts})"
        )
        if batch.failed_ids:
            lines.append("  failed: " + ", ".join(str(i) for i in batch.failed_ids))
    return "\n".join(lines)
