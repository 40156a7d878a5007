"""Creates a store under a given umask and prints the modes of its files, as JSON:
`python -m tests.store.umask_probe DIR UMASK` (a process of its own: the umask is
process-wide, and the test suite runs threads and xdist workers)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys

from jobs_core import BackgroundJobs
from tests.conftest import FAST


async def main(directory: str) -> None:
    jobs = BackgroundJobs(directory, settings=FAST)

    @jobs.command
    async def noop() -> None:
        return None

    async with jobs:
        await jobs.enqueue("noop")
        await jobs.run_until_idle()  # finishes and archives it: a month file is created
        # While the store is open, so the -wal and -shm files exist.
        modes = {".": stat.S_IMODE(os.stat(directory).st_mode)}
        for name in os.listdir(directory):
            modes[name] = stat.S_IMODE(os.stat(os.path.join(directory, name)).st_mode)
    print(json.dumps(modes))


if __name__ == "__main__":
    os.umask(int(sys.argv[2], 8))
    asyncio.run(main(sys.argv[1]))
