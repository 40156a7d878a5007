"""What the job fields on log records cost: per record, with the filter or the factory.

Usage: uv run python bench/log_context.py [--quick]. The engine's per-job path is not
touched (the running job is already in a contextvar); this measures the logging side only.
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from _common import final_line, print_table

from jobs_core.log_context import JobLogFilter, install_log_context, uninstall_log_context


class Null(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        return None


def per_record_us(n: int, setup: str) -> float:
    logger = logging.getLogger(f"bench.{setup}")
    logger.propagate = False
    handler = Null()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    if setup == "filter":
        handler.addFilter(JobLogFilter())
    if setup == "factory":
        install_log_context()
    try:
        start = time.perf_counter()
        for i in range(n):
            logger.info("message %s", i)
        return (time.perf_counter() - start) / n * 1e6
    finally:
        uninstall_log_context()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    n = 20_000 if parser.parse_args().quick else 200_000
    result: dict[str, Any] = {s: per_record_us(n, s) for s in ("plain", "filter", "factory")}
    print_table(
        ["setup", "µs per record", "added µs"],
        [[s, v, v - result["plain"]] for s, v in result.items()],
    )
    final_line({f"{k}_us": v for k, v in result.items()})


if __name__ == "__main__":
    main()
