"""A huey consumer in its own process for `bench/peers.py`: runs until SIGTERM.

Usage: HUEY_BENCH_EXPECTED=N python bench/_huey_proc.py DB default|off. Uses huey's own
`Consumer` with its defaults (one worker thread, polling from 0.1 s backing off to 10 s when
idle, the scheduler thread). Prints "ready <epoch s>" once started, "done <epoch s>" when the
N-th task has run, and at exit "ran <count>" and "lat <JSON list of stamp latencies, ns>".
"""

from __future__ import annotations

import json
import sys
import time

from _huey_app import TALLY, make_huey, require_huey_version


def main() -> None:
    require_huey_version()
    path, fsync = sys.argv[1], sys.argv[2]
    huey, _, _ = make_huey(path, fsync)
    consumer = huey.create_consumer()
    print(f"ready {time.time():.6f}", flush=True)
    consumer.run()  # returns after SIGTERM (huey's immediate stop) or SIGINT (graceful)
    print(f"ran {TALLY.ran}", flush=True)
    print(f"lat {json.dumps(TALLY.latencies_ns)}", flush=True)


if __name__ == "__main__":
    main()
