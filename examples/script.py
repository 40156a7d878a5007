"""A plain script: enqueue work, run it with an engine in the same process, print results.

Run: JOBS_DIR=jobs_data python -m examples.script
"""

from __future__ import annotations

import asyncio
import os

from jobs_core import BackgroundJobs

jobs = BackgroundJobs(os.environ.get("JOBS_DIR", "jobs_data"))


@jobs.command
async def word_count(req: str) -> int:
    return len(req.split())


async def main() -> None:
    async with jobs:  # the engine runs until the block ends
        texts = ["one two three", "four five", "six"]
        handles = await word_count.enqueue_many(texts)  # one transaction
        for text, handle in zip(texts, handles, strict=True):
            print(f"{text!r}: {await handle.wait(timeout=30)} words")


if __name__ == "__main__":
    asyncio.run(main())
