"""Jobs as JSON-ready dicts: what `jobs list --json` exports and the admin app copies."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from .records import Job


def job_to_dict(job: Job) -> dict[str, Any]:
    """Every field of `job` as JSON values: the state as its name, the request and response
    as the JSON they hold (not as strings), the error as an object. `reply_to` comes as the
    admin API returns it (masked)."""
    data = dataclasses.asdict(job)
    data["state"] = job.state.value
    data["request_body"] = _json(job.request_body)
    data["response_body"] = _json(job.response_body)
    return data


def job_to_json(job: Job) -> str:
    """One line of JSON (a JSON-lines export row)."""
    return json.dumps(job_to_dict(job), ensure_ascii=False, separators=(",", ":"))


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
