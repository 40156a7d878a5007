"""jobs_cli: the `jobs` command line (demo, worker, tui, enqueue, status, cancel, requeue)."""
