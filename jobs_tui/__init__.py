"""jobs_tui: the Textual terminal admin app for jobs stores."""

from jobs_tui.app import JobsApp

__all__ = ["JobsApp"]
