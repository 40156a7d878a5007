"""OpenTelemetry spans and metrics for enqueues and attempts (needs `opentelemetry-api`).

Without the package the facade's `telemetry` is None, this module is never loaded and the
engine pays one `is not None` test per batch and per job. With it, spans are made only
while a tracer provider is configured (the API's default proxy makes none), and metrics go
through the metrics API (no-ops until an SDK meter provider is set).

Trace context travels in the job's `meta` as a W3C `traceparent`, written only when a span
is active at enqueue, so the attempt's span joins the trace of the request that enqueued.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .rules import Attempt, Outcome

if TYPE_CHECKING:
    from .records import Job
    from .store.protocol import EnqueuedIds, JobColumns, NewJob, Store

SCOPE = "jobs_core"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_PROPAGATOR = TraceContextTextMapPropagator()
RECHECK_SECS = 1.0
_NO_TRACER = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
# The API has no public test for "no meter provider set"; its proxy is that state.
_NO_METER = (metrics._internal._ProxyMeterProvider, metrics.NoOpMeterProvider)


def exports_spans(provider: trace.TracerProvider) -> bool:
    """Whether spans of `provider` can reach anyone: a real provider with at least one span
    processor. The SDK's provider with none (installed, no exporter) records spans that go
    nowhere, at ~15 µs each; other providers are taken to record."""
    if isinstance(provider, _NO_TRACER):
        return False
    # The SDK has no public accessor for its processors; absent attributes mean "records".
    processors = getattr(
        getattr(provider, "_active_span_processor", None), "_span_processors", None
    )
    return processors is None or len(processors) > 0


def exports_metrics(provider: metrics.MeterProvider) -> bool:
    """Whether measurements of `provider` can be read: a real provider with a metric reader
    (the SDK's readers are fixed when it is made)."""
    if isinstance(provider, _NO_METER):
        return False
    readers = getattr(provider, "_metric_readers", None)
    return readers is None or len(readers) > 0


class Telemetry:
    """Spans and instruments of one facade (and its engine).

    Pass providers to use your own (tests do, with the SDK's in-memory exporters); by default
    the global ones are used, looked up again on each batch so a provider configured after
    the facade was made is honoured.
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._tracer = trace.get_tracer(SCOPE, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, meter_provider=meter_provider)
        self.enqueued = meter.create_counter("jobs.enqueued", "{job}", "Jobs stored")
        self.started = meter.create_counter("jobs.started", "{job}", "Attempts started")
        self.finished_count = meter.create_counter(
            "jobs.finished", "{job}", "Attempts ended, by outcome"
        )
        self.duration = meter.create_histogram("jobs.duration", "s", "Attempt run time")
        self.queue_wait = meter.create_histogram(
            "jobs.queue_wait", "s", "Time from due to start of an attempt"
        )
        self.tracing = False
        """Whether spans are made: a tracer provider with somewhere to send them is set."""
        self._next_check = 0.0
        self.active = self.live()
        """Whether anything is recorded; the engine skips its per-job hook while False."""

    def live(self) -> bool:
        """Whether an SDK (or another real provider) would see anything; updates `tracing`.

        Without one, spans and instruments are the API's no-op proxies, and an SDK provider
        with no exporter (no span processor, no metric reader) throws everything away: the
        facade and the engine then skip their hooks, so either costs one check per batch.
        Looking the global providers up costs ~5 µs (the API reads the environment), so it is
        done at most every `RECHECK_SECS`: a provider or exporter added later is honoured
        within that time.
        """
        now = time.monotonic()
        if now < self._next_check:
            return self.active
        self._next_check = now + RECHECK_SECS
        self.tracing = exports_spans(self._tracer_provider or trace.get_tracer_provider())
        metering = exports_metrics(self._meter_provider or metrics.get_meter_provider())
        self.active = self.tracing or metering
        return self.active

    # -- enqueue ----------------------------------------------------------------------------

    async def enqueue(self, store: Store, jobs: list[NewJob], now: int) -> EnqueuedIds:
        """Store `jobs`, in an `enqueue` span carried into them when a trace is active.

        The facade calls it only when `live()`."""
        counts = Counter(j.command for j in jobs)
        return await self._enqueue(
            counts, [j.meta for j in jobs], len(jobs), lambda: store.enqueue(jobs, now)
        )

    async def enqueue_columns(self, store: Store, jobs: JobColumns, now: int) -> EnqueuedIds:
        """`enqueue` for `Store.enqueue_columns` (every job carries its one `meta`)."""
        counts = {jobs.job.command: len(jobs)}
        return await self._enqueue(
            counts, [jobs.job.meta], len(jobs), lambda: store.enqueue_columns(jobs, now)
        )

    async def _enqueue(
        self, counts: Mapping[str, int], metas: list[dict[str, str]], count: int,
        insert: Callable[[], Awaitable[EnqueuedIds]],
    ) -> EnqueuedIds:  # fmt: skip
        for command, n in counts.items():
            self.enqueued.add(n, {"command": command})
        if not (self.tracing and trace.get_current_span().get_span_context().is_valid):
            return await insert()
        commands = sorted(counts)
        name = f"enqueue {commands[0]}" if len(commands) == 1 else "enqueue"
        with self._tracer.start_as_current_span(name, kind=SpanKind.PRODUCER) as span:
            span.set_attribute("jobs.commands", commands)
            span.set_attribute("jobs.count", count)
            carrier: dict[str, str] = {}
            _PROPAGATOR.inject(carrier)
            for meta in metas:
                # NewJob is frozen but its meta is the job's own dict, made for it at enqueue.
                meta.update(carrier)
            ids = await insert()
            if len(ids) == 1:
                span.set_attribute("jobs.job_id", ids[0])
            return ids

    # -- attempts ---------------------------------------------------------------------------

    def claimed(self, jobs: list[Job], now: int) -> None:
        """Count a claimed batch and record how long each job waited once due."""
        if not self.live():
            return
        record = self.queue_wait.record
        for job in jobs:
            due = max(job.run_after, job.created_date)
            record(max(0, now - due) / 1000, {"command": job.command})
        for command, n in Counter(j.command for j in jobs).items():
            self.started.add(n, {"command": command})

    def finished(self, outcomes: list[tuple[Job, Attempt]]) -> None:
        """Count a batch of ended attempts by command and outcome, and time each one."""
        record = self.duration.record
        counts: Counter[tuple[str, str]] = Counter()
        for job, attempt in outcomes:
            key = (job.command, attempt.outcome.value)
            counts[key] += 1
            record(attempt.duration_ms / 1000, {"command": key[0], "outcome": key[1]})
        for (command, outcome), n in counts.items():
            self.finished_count.add(n, {"command": command, "outcome": outcome})

    async def attempt(self, job: Job, run: Coroutine[Any, Any, Attempt]) -> Attempt:
        """Run one attempt in a span that continues the enqueuing trace when there is one
        (the engine calls it only while `tracing`)."""
        parent = _PROPAGATOR.extract(job.meta) if TRACEPARENT in job.meta else None
        span = self._tracer.start_span(
            f"run {job.command}",
            context=parent if parent is not None else otel_context.Context(),
            kind=SpanKind.CONSUMER,
            attributes={
                "jobs.job_id": job.id, "jobs.command": job.command,
                "jobs.attempt": job.attempts, "jobs.worker": job.worker,
            },
        )  # fmt: skip
        with trace.use_span(span, end_on_exit=True):
            attempt = await run
            span.set_attribute("jobs.outcome", attempt.outcome.value)
            if attempt.outcome is not Outcome.SUCCESS:
                error = attempt.error
                text = f"{error.code}: {error.message}" if error else attempt.outcome.value
                span.set_status(Status(StatusCode.ERROR, text))
            return attempt
