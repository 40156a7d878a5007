"""A child process forked from a test, using the parent's `BackgroundJobs` through
`jobs.sync`, as a gunicorn `--preload` worker does."""

from __future__ import annotations

import os
import signal

from jobs_core import BackgroundJobs, JobState

CHILD_DEADLINE_SECS = 30


def wait_for_child(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def enqueue_in_a_forked_child(jobs: BackgroundJobs, command: str, request: object) -> int:
    """Fork; the child enqueues `request` and counts through `jobs.sync`. Its exit code: 0
    when it saw two queued jobs (the parent's and its own), -SIGALRM when it hung."""
    pid = os.fork()
    if pid == 0:
        signal.alarm(CHILD_DEADLINE_SECS)
        code = 1
        try:
            jobs.sync.enqueue(command, request)
            code = 0 if jobs.sync.counts()[JobState.QUEUED] == 2 else 2
        finally:
            os._exit(code)
    return wait_for_child(pid)
