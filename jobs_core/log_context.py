"""Job id, command and attempt on log records emitted inside a handler, and JSON logs.

The engine already keeps the running job in a contextvar (`current_job()`), so this costs
the engine nothing: the lookup happens only when a record is logged. Either add
`JobLogFilter()` to your logging handlers, or call `install_log_context()` once to put the
fields on every record of the process (a LogRecord factory). Outside a job they are None.

    handler = logging.StreamHandler()
    handler.addFilter(JobLogFilter())
    handler.setFormatter(JsonFormatter())
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from .context import current_context

FIELDS = ("job_id", "job_command", "job_attempt")
"""Attributes set on each record: the job's id, its command, its attempt number."""


def _annotate(record: logging.LogRecord) -> None:
    ctx = current_context.get(None)
    if ctx is None:
        record.job_id = record.job_command = record.job_attempt = None
    else:
        job = ctx.job
        record.job_id, record.job_command, record.job_attempt = job.id, job.command, job.attempts


class JobLogFilter(logging.Filter):
    """Adds `job_id`, `job_command` and `job_attempt` to every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        _annotate(record)
        return True


_installed: Any = None


def install_log_context() -> None:
    """Put the job fields on every log record of the process (idempotent)."""
    global _installed
    if _installed is not None:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _annotate(record)
        return record

    _installed = previous
    logging.setLogRecordFactory(factory)


def uninstall_log_context() -> None:
    """Undo `install_log_context`."""
    global _installed
    if _installed is not None:
        logging.setLogRecordFactory(_installed)
        _installed = None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the job fields, and the
    traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "job_id"):
            _annotate(record)
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
