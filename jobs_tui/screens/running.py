"""The base of the screens with a table of running jobs (`#running`): enter opens one, `c`
cancels it."""

from __future__ import annotations

from textual.widgets import DataTable

from jobs_core import JobState, RunningJob
from jobs_tui.screens.base import DataScreen, SelectedJob
from jobs_tui.widgets.keyed_table import KeyedTable


class RunningJobsScreen(DataScreen):
    """Selection and keys of the `#running` table; subclasses say what runs."""

    @property
    def running(self) -> list[RunningJob]:
        """The running jobs shown."""
        return []

    def selected_job(self) -> SelectedJob | None:
        key = self.query_one("#running", KeyedTable).selected_key
        for job in self.running:
            if str(job.id) == key:
                return SelectedJob(id=job.id, command=job.command, state=JobState.STARTED)
        return None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_footer()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.data_table.id == "running":
            self.action_open_job()
