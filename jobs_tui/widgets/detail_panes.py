"""Panes of the job detail screen: highlighted JSON, the log tail, and the field list."""

from __future__ import annotations

import json

from textual.content import Content
from textual.highlight import highlight
from textual.widgets import Log, Static

from jobs_core import BatchStatus, Job, JobResult, JobSummary
from jobs_tui.formatting import duration, timestamp


def pretty_json(text: str | None) -> Content:
    """JSON text indented and highlighted with theme colours; other text shown as is."""
    if text is None:
        return Content("(none)")
    try:
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return Content(text)
    return highlight(text, language="json")


class JsonPane(Static):
    """A request or response body."""

    def show(self, text: str | None) -> None:
        self.update(pretty_json(text))


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


def job_fields(result: JobResult) -> list[tuple[str, str]]:
    """Every field of the job as (name, text) pairs, in reading order."""
    job = result.job
    summary = result.summary
    if job is None:
        return [("id", str(summary.id)), ("state", str(summary.state)),
                ("note", "its month database was removed; only the summary is left")]  # fmt: skip
    return [*_identity(job), *_timing(job), *_execution(job)]


def _identity(job: Job) -> list[tuple[str, str]]:
    return [
        ("id", str(job.id)), ("command", job.command), ("state", str(job.state)),
        ("worker", job.worker or "(default)"), ("ref id", job.ref_id or ""),
        ("tag", job.tag or ""), ("batch", job.batch_id or ""),
        ("created by", job.created_by or ""), ("user", job.user_id or ""),
        ("parent", _id(job.parent_id)), ("depends on", _id(job.depends_on)),
        ("callback", job.callback or ""), ("reply to", job.reply_to or ""),
        ("request type", job.request_type), ("response type", job.response_type or ""),
        ("args", _pairs(job.args)), ("meta", _pairs(job.meta)),
    ]  # fmt: skip


def _timing(job: Job) -> list[tuple[str, str]]:
    took = None
    if job.started_date is not None and job.completed_date is not None:
        took = job.completed_date - job.started_date
    return [
        ("created", timestamp(job.created_date)), ("run after", timestamp(job.run_after)),
        ("started", timestamp(job.started_date)), ("finished", timestamp(job.completed_date)),
        ("took", duration(took)), ("notified", _notified(job)),
        ("last activity", timestamp(job.last_activity_date)),
    ]  # fmt: skip


def _notified(job: Job) -> str:
    """When its reply or callback was delivered, or why its reply was not."""
    if job.notify_error:
        return f"failed: {job.notify_error}"
    return timestamp(job.notified_date)


def _execution(job: Job) -> list[tuple[str, str]]:
    progress = "" if job.progress is None else f"{job.progress * 100:.0f}%"
    if progress and job.progress_estimated:
        progress += " (estimated)"
    return [
        ("attempts", f"{job.attempts} of {job.retry_limit + 1}"),
        ("timeout", f"{job.timeout_secs:g}s"), ("progress", progress),
        ("status", job.status or ""), ("engine", job.owner or ""),
    ]  # fmt: skip


def _id(value: int | None) -> str:
    return "" if value is None else str(value)


def _pairs(values: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(values.items()))


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
