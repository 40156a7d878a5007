"""OpenTelemetry: spans for enqueue and attempts joined in one trace, metrics, and no cost
when `opentelemetry-api` is absent."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from jobs_core import BackgroundJobs, JobContext
from jobs_core.telemetry import Telemetry
from tests.conftest import MakeJobs


def instrument(jobs: BackgroundJobs) -> tuple[InMemorySpanExporter, InMemoryMetricReader, Any]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    jobs.telemetry = Telemetry(
        tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader])
    )
    return spans, reader, tracer_provider.get_tracer("app")


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    found: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


async def test_one_trace_joins_the_request_the_enqueue_and_the_attempt(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(start_engine=False)
    spans, _, tracer = instrument(jobs)

    @jobs.command
    async def work(req: int, ctx: JobContext) -> int:
        with tracer.start_as_current_span("inside the handler"):
            return req

    async with jobs:
        with tracer.start_as_current_span("POST /orders"):
            handle = await work.enqueue(1)
        job = (await handle.get()).job
        assert job is not None and job.meta["traceparent"].startswith("00-")
        await jobs.run_until_idle()
    by_name = {s.name: s for s in spans.get_finished_spans()}
    request, enqueue = by_name["POST /orders"], by_name["enqueue work"]
    run, inner = by_name["run work"], by_name["inside the handler"]
    trace_id = request.context.trace_id
    assert {s.context.trace_id for s in (enqueue, run, inner)} == {trace_id}
    assert enqueue.parent is not None and enqueue.parent.span_id == request.context.span_id
    assert run.parent is not None and run.parent.span_id == enqueue.context.span_id
    assert inner.parent is not None and inner.parent.span_id == run.context.span_id
    assert enqueue.kind is SpanKind.PRODUCER and run.kind is SpanKind.CONSUMER
    assert run.attributes is not None
    assert run.attributes["jobs.job_id"] == handle.id and run.attributes["jobs.attempt"] == 1


async def test_no_traceparent_without_an_active_span_and_failed_attempts_mark_errors(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(start_engine=False)
    spans, _, _ = instrument(jobs)

    @jobs.command
    async def boom(req: None) -> None:
        raise RuntimeError("nope")

    async with jobs:
        ref = await jobs.enqueue("boom", retry_limit=0)
        job = (await jobs.get_job(ref.id)).job
        assert job is not None and "traceparent" not in job.meta
        await jobs.run_until_idle()
    (run,) = spans.get_finished_spans()
    assert run.name == "run boom" and run.parent is None
    assert run.status.status_code is StatusCode.ERROR
    assert run.status.description == "RuntimeError: nope"


async def test_metrics_count_enqueued_started_finished_and_time_them(
    make_jobs: MakeJobs,
) -> None:
    jobs = make_jobs(start_engine=False)
    _, reader, _ = instrument(jobs)

    @jobs.command
    async def maybe(req: bool) -> None:
        if not req:
            raise ValueError("no")

    async with jobs:
        await maybe.enqueue_many([True, True, False], retry_limit=0)
        await jobs.run_until_idle()
    found = points(reader)
    assert [(p.attributes, p.value) for p in found["jobs.enqueued"]] == [({"command": "maybe"}, 3)]
    assert [p.value for p in found["jobs.started"]] == [3]
    finished = {p.attributes["outcome"]: p.value for p in found["jobs.finished"]}
    assert finished == {"success": 2, "error": 1}
    assert sum(p.count for p in found["jobs.duration"]) == 3
    assert sum(p.count for p in found["jobs.queue_wait"]) == 3


async def test_api_without_an_sdk_skips_the_hooks(make_jobs: MakeJobs) -> None:
    jobs = make_jobs(start_engine=False)
    assert isinstance(jobs.telemetry, Telemetry)  # the API is installed here

    @jobs.command
    async def echo(req: int) -> int:
        return req

    async with jobs:
        ref = await echo.enqueue(1)
        with trace.get_tracer("app").start_as_current_span("no-op request"):
            ref2 = await echo.enqueue(2)  # the API's no-op span is not an active trace
        await jobs.run_until_idle()
        assert jobs.telemetry.live() is False and jobs.telemetry.active is False
        assert await ref.wait(timeout=5) == 1
        job = (await ref2.get()).job
        assert job is not None and job.meta == {}


def test_without_opentelemetry_nothing_is_imported(tmp_path: Any) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        sys.modules["opentelemetry"] = None  # as if the package were not installed
        from jobs_core import BackgroundJobs
        jobs = BackgroundJobs({str(tmp_path / "store")!r}, start_engine=False)

        @jobs.command
        async def echo(req: int) -> int:
            return req

        async def main():
            async with jobs:
                ref = await echo.enqueue(5)
                await jobs.run_until_idle()
                assert await ref.wait(timeout=5) == 5

        asyncio.run(main())
        assert jobs.telemetry is None
        loaded = [m for m in sys.modules if m.startswith("opentelemetry") and sys.modules[m]]
        print(loaded, "jobs_core.telemetry" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[] False"


async def test_an_sdk_without_exporters_skips_the_hooks_until_one_is_added(
    make_jobs: MakeJobs, monkeypatch: Any
) -> None:
    jobs = make_jobs(start_engine=False)
    tracer_provider = TracerProvider()  # installed and configured, but sends nowhere
    jobs.telemetry = Telemetry(tracer_provider=tracer_provider, meter_provider=MeterProvider())
    assert jobs.telemetry.active is False and jobs.telemetry.tracing is False

    @jobs.command
    async def echo(req: int) -> int:
        return req

    async with jobs:
        with tracer_provider.get_tracer("app").start_as_current_span("request"):
            ref = await echo.enqueue(1)
        await jobs.run_until_idle()
        job = (await ref.get()).job
        assert job is not None and job.meta == {}  # no span was made to carry

        spans = InMemorySpanExporter()
        tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        monkeypatch.setattr("jobs_core.telemetry.RECHECK_SECS", 0.0)
        jobs.telemetry._next_check = 0.0
        assert jobs.telemetry.live() is True and jobs.telemetry.tracing is True
        with tracer_provider.get_tracer("app").start_as_current_span("request"):
            await echo.enqueue(2)
        await jobs.run_until_idle()
    assert {span.name for span in spans.get_finished_spans()} >= {"enqueue echo", "run echo"}


def test_a_meter_provider_with_a_reader_is_live_without_tracing() -> None:
    telemetry = Telemetry(
        tracer_provider=TracerProvider(),
        meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]),
    )
    assert telemetry.active is True and telemetry.tracing is False
