"""Widgets of the admin app: keyed job tables, the filter bar, the job detail panes."""
