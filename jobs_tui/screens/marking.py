"""Marks and bulk actions of the list views: space marks a row, ctrl+a the rows loaded, `A`
everything the filter matches (every month); cancel, requeue and delete then apply to the
marked jobs, confirmed with their count."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding

from jobs_core import TERMINAL_STATES, BulkResult, JobQuery, JobState
from jobs_tui.marks import Marks
from jobs_tui.screens.base import DataScreen
from jobs_tui.screens.bulk import BulkScreen
from jobs_tui.screens.confirm import ConfirmScreen

APPLIES = {
    "cancel": "queued and running jobs are cancelled",
    "requeue": "failed and cancelled jobs are requeued",
    "delete": "finished jobs are deleted for good",
}


class MarkingScreen(DataScreen):
    """A data screen whose rows can be marked for bulk actions."""

    SCOPE: ClassVar[frozenset[JobState]] = frozenset(JobState)
    """The states this view lists; `A` marks its jobs matching the filter in every month."""

    MARK_BINDINGS: ClassVar[list[Binding]] = [
        Binding("space", "mark", "Mark", id="list.mark"),
        Binding("ctrl+a", "mark_loaded", "Mark all loaded", show=False, id="list.mark_loaded"),
        Binding("A", "mark_matching", "Mark all matching", show=False, id="list.mark_matching"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.marks = Marks()
        self.filter = JobQuery()
        """The view's filter."""

    def scope_query(self) -> JobQuery:
        """The filter limited to the states this view lists."""
        return self.filter.with_states(self.SCOPE)

    def loaded_ids(self) -> list[int]:
        """The ids of the rows loaded (what ctrl+a marks)."""
        return []

    def marks_changed(self) -> None:
        """Hook: redraw the rows and the footer."""

    # -- marking ----------------------------------------------------------------------------

    def action_mark(self) -> None:
        job = self.selected_job()
        if job is not None and not self.jobs_app.refuse_write():
            self.marks.toggle(job.id)
            self.marks_changed()

    def action_mark_loaded(self) -> None:
        if not self.jobs_app.refuse_write():
            self.marks.mark_all(self.loaded_ids())
            self.marks_changed()

    def action_mark_matching(self) -> None:
        if not self.jobs_app.refuse_write():
            self.run_worker(self._mark_matching(self.scope_query()), group="count")

    async def _mark_matching(self, query: JobQuery) -> None:
        self.notify(f"Counting the jobs matching {str(query) or 'nothing'!r}…", timeout=2)
        count = await self.jobs.count_jobs(query)
        self.marks.mark_matching(query, count)
        self.marks_changed()

    def clear_marks(self) -> bool:
        """Forget the marks; True if there were some."""
        had = bool(self.marks)
        self.marks.clear()
        if had:
            self.marks_changed()
        return had

    # -- actions on the marked jobs ----------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("cancel", "requeue", "delete") and self.marks:
            return not self.jobs_app.read_only
        if action == "delete":
            job = self.selected_job()
            if self.jobs_app.read_only:
                return False
            return True if job is not None and job.state in TERMINAL_STATES else None
        return super().check_action(action, parameters)

    def action_cancel(self) -> None:
        if self.marks:
            self.bulk("cancel")
        else:
            super().action_cancel()

    def action_requeue(self) -> None:
        if self.marks:
            self.bulk("requeue")
        else:
            super().action_requeue()

    def action_delete(self) -> None:
        if self.marks:
            self.bulk("delete")
            return
        job = self.selected_job()
        if job is None or job.state not in TERMINAL_STATES or self.jobs_app.refuse_write():
            return

        async def delete() -> str:
            await self.jobs.delete(job.id)
            return f"Job {job.id} deleted"

        self.confirm_then(
            f"Delete job {job.id} ({job.command}) for good?\nIts row and summary are removed.",
            delete,
        )

    def bulk(self, action: str) -> None:
        """Confirm with the count, then run the action on the marked jobs."""
        if self.jobs_app.refuse_write():
            return
        count = self.marks.count
        target = self.marks.target()
        question = f"{action.capitalize()} {count:,} job{'' if count == 1 else 's'}?"
        if isinstance(target, JobQuery):
            question += f"\nEvery job matching:\n  {target}"
        question += f"\nOnly {APPLIES[action]}; others are skipped."

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.app.push_screen(BulkScreen(action, target, count), finished)

        def finished(result: BulkResult | None) -> None:
            if result is not None:
                text = result.summary(action)
                self.notify(text[0].upper() + text[1:])
                self.clear_marks()
            self.request_refresh()

        self.app.push_screen(ConfirmScreen(question), confirmed)
