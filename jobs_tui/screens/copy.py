"""The copy menu (`y`): the job as JSON, its id, its error or its request, to the clipboard."""

from __future__ import annotations

import json

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from jobs_core import Job, job_to_dict
from jobs_tui.widgets.detail_panes import error_text

CHOICES = [
    ("j", "json", "the job as JSON (every field)"),
    ("i", "id", "its id"),
    ("e", "error", "its error and traceback"),
    ("r", "request", "its request JSON"),
]


def copy_text(job: Job, what: str) -> str:
    """What `y` then a choice copies."""
    if what == "json":
        return json.dumps(job_to_dict(job), indent=2, ensure_ascii=False)
    if what == "id":
        return str(job.id)
    if what == "error":
        return error_text(job)
    return json.dumps(json.loads(job.request_body), indent=2, ensure_ascii=False)


class CopyScreen(ModalScreen[str | None]):
    """Dismisses with the choice (`json`, `id`, `error`, `request`) or None."""

    BINDINGS = [
        *(
            Binding(key, f"choose('{what}')", label, id=f"copy.{what}")
            for key, what, label in CHOICES
        ),
        Binding("escape,q,y", "choose('')", "Cancel", id="copy.cancel"),
    ]

    def __init__(self, job_id: int) -> None:
        super().__init__()
        self.job_id = job_id

    def compose(self) -> ComposeResult:
        with Vertical(id="copy-dialog"):
            yield Static(f"Copy job {self.job_id}", id="copy-title")
            lines = [Content.assemble((f" {key} ", "bold $accent"), f" {label}")
                     for key, _, label in CHOICES]  # fmt: skip
            yield Static(Content("\n").join(lines))

    def action_choose(self, what: str) -> None:
        self.dismiss(what or None)
