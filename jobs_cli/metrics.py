"""`jobs metrics`: a store's counters in Prometheus text format, printed or served.

The figures come from the store's own counters (jobs by state, engines' processed and
failed counts, finishes per minute), so they need no engine and cost no scan. The attempt
duration and queue-wait histograms come from OpenTelemetry in the engine process.
"""

from __future__ import annotations

import argparse
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from jobs_core import BackgroundJobs, JobsError, JobState

from .common import USAGE, CliError, add_store_argument, open_store

THROUGHPUT_MINUTES = 15


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "metrics", help="print (or serve) a store's figures in Prometheus text format"
    )
    add_store_argument(parser)
    parser.add_argument(
        "--prometheus", action="store_true", help="Prometheus text format (the default)"
    )
    parser.add_argument(
        "--serve", type=int, metavar="PORT",
        help="serve /metrics on 127.0.0.1:PORT until interrupted (0 picks a free port)",
    )  # fmt: skip
    parser.set_defaults(func=metrics_command, needs_store=True)


def metrics_command(args: argparse.Namespace) -> int:
    if args.serve is not None and not 0 <= args.serve <= 65535:
        raise CliError(f"--serve: {args.serve} is not a TCP port", USAGE)
    jobs = open_store(args.directory)
    try:
        if args.serve is None:
            sys.stdout.write(prometheus_text(jobs))
            return 0
        serve(jobs, args.serve)
        return 0
    finally:
        jobs.sync.close()


def prometheus_text(jobs: BackgroundJobs) -> str:
    """The exposition text, read through the blocking admin API."""
    counts = jobs.sync.counts()
    engines = jobs.sync.engines()
    minutes = jobs.sync.throughput(THROUGHPUT_MINUTES)
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
        lines.extend([f"# HELP {name} {help_}", f"# TYPE {name} {kind}"])
        lines.extend(f"{name}{labels} {value:g}" for labels, value in samples)

    metric("jobs_enqueued_total", "counter", "Jobs ever stored.", [("", sum(counts.values()))])
    metric(
        "jobs_jobs", "gauge", "Jobs by current state.",
        [(f'{{state="{s.value}"}}', counts.get(s, 0)) for s in JobState],
    )  # fmt: skip
    metric(
        f"jobs_finished_last_{THROUGHPUT_MINUTES}m", "gauge",
        f"Jobs finished in the last {THROUGHPUT_MINUTES} minutes, by outcome.",
        [('{outcome="completed"}', sum(b.completed for b in minutes)),
         ('{outcome="failed"}', sum(b.failed for b in minutes))],
    )  # fmt: skip
    live = [e for e in engines if e.alive]
    metric("jobs_engines", "gauge", "Engines with a live lease.", [("", len(live))])
    for name, help_, attr in (
        ("jobs_engine_running", "Jobs an engine runs now.", "running"),
        ("jobs_engine_processed_total", "Attempts an engine finished.", "processed"),
        ("jobs_engine_failed_total", "Attempts an engine finished as failed.", "failed"),
    ):
        kind = "gauge" if attr == "running" else "counter"
        metric(name, kind, help_, [(_engine_labels(e.id, e.host), getattr(e, attr)) for e in live])
    return "\n".join(lines) + "\n"


def _engine_labels(engine_id: str, host: str) -> str:
    escaped = engine_id.replace("\\", "\\\\").replace('"', '\\"')
    return f'{{engine="{escaped}",host="{host}"}}'


def serve(jobs: BackgroundJobs, port: int) -> None:
    """Serve `GET /metrics` on 127.0.0.1 until SIGINT or SIGTERM."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404, "only /metrics is served")
                return
            try:
                body = prometheus_text(jobs).encode()
            except JobsError as error:
                self.send_error(500, str(error))
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None  # one line per scrape would drown the terminal

    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    except OSError as error:
        raise CliError(f"--serve: cannot listen on 127.0.0.1:{port}: {error}") from None
    host, bound = server.server_address[:2]
    print(f"serving http://{host!s}:{bound}/metrics", flush=True)
    _stop_on_sigterm()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _stop_on_sigterm() -> None:
    import signal

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
