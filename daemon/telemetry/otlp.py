"""OpenTelemetry export of finished requests: one GenAI span per request and the GenAI metrics.

Owns turning a finished ``GatewayRequestEvent`` into a span with explicit start and end times
(``ts`` is the end, ``latency_ms`` the length) that follows the GenAI semantic conventions
(``gen_ai.*``), plus ``stackbilt.*`` attributes for what the conventions lack (cost, savings,
route class, requested vs served model, fallback chain, client, repository), and recording the
metrics ``gen_ai.client.token.usage``, ``gen_ai.client.operation.duration`` and the counter
``stackbilt.cost``. Sending is the official SDK's, off the request path: a ``BatchSpanProcessor``
(bounded queue: past it spans are dropped; its own thread) and a ``PeriodicExportingMetricReader``
(its own thread), both to the OTLP/HTTP protobuf exporter with a short timeout, so an unreachable
collector costs serving nothing. Export failures are counted and logged at most once per
``LOG_EVERY`` seconds (the exporters' own per-batch error lines are held back). Prompt text is
exported only when ``store_prompts`` is on, and then redacted. Uses its own tracer and meter
providers, never the process-wide ones.

Does not build events (``recorder``), store them (``writer``) or decide whether export is on
(``compose.root``, which imports this module only then: the SDK is the ``otel`` extra).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from ..core.config import OtlpSettings
from ..storage.redact import redact, remember_secret
from .events import GatewayRequestEvent

log = logging.getLogger(__name__)

SERVICE_NAME = "stackbilt-gateway"
SCOPE = "stackbilt_gateway.daemon.telemetry.otlp"
# Export failures are reported at most this often (the first one at once).
LOG_EVERY = 60.0
# Spans waiting for export; past it the oldest are dropped (the SDK's bounded deque).
MAX_QUEUE = 2048
BATCH = 512
# The GenAI conventions' advised bucket boundaries.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
# The exporters' loggers: one line per failed batch and per retry, held back (``_HoldBack``).
_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.common.http",
)
# Record protocols that are not a model call ("count_tokens" is not in the conventions' list).
_OPERATIONS = {"anthropic-count": "count_tokens"}


class _HoldBack(logging.Filter):
    """Drops the exporters' per-batch warnings and errors, keeping the last one as the reason."""

    def __init__(self) -> None:
        super().__init__()
        self.last: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        try:
            if str(record.msg).startswith("Transient error") and isinstance(record.args, tuple):
                self.last = str(record.args[0])  # the cause (e.g. connection refused), not the retry
            elif not (self.last and "due to timeout, max retries or shutdown" in str(record.msg)):
                self.last = record.getMessage()
        except Exception:  # a malformed record is held back all the same
            pass
        return False


_HELD = _HoldBack()


def _hold_back_exporter_logs() -> None:
    for name in _EXPORTER_LOGGERS:
        logger = logging.getLogger(name)
        if _HELD not in logger.filters:
            logger.addFilter(_HELD)


class ExportFailures:
    """Failed export batches, counted, and logged at most once per ``every`` seconds."""

    def __init__(self, endpoint: str, every: float = LOG_EVERY, clock: Callable[[], float] = time.monotonic):
        self.endpoint = endpoint
        self.every = every
        self.count = 0
        self._clock = clock
        self._unreported = 0
        self._next_report = 0.0
        self._lock = threading.Lock()

    def record(self, signal: str) -> None:
        with self._lock:
            self.count += 1
            self._unreported += 1
            now = self._clock()
            if now < self._next_report:
                return
            self._next_report = now + self.every
            n, self._unreported = self._unreported, 0
        self._report(n, signal)

    def _report(self, n: int, signal: str) -> None:
        log.warning(
            "telemetry.otlp: %d export batch(es) to %s failed (latest: %s, %s); reported at most every %.0fs",
            n,
            self.endpoint,
            signal,
            _HELD.last or "no detail",
            self.every,
        )

    def close(self) -> None:
        """Report failures not yet reported (shutdown)."""
        with self._lock:
            n, self._unreported = self._unreported, 0
        if n:
            self._report(n, "at shutdown")


class _SpanExporter(OTLPSpanExporter):
    """The OTLP/HTTP span exporter, counting failed batches and never raising."""

    def __init__(self, failures: ExportFailures, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failures = failures
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = super().export(spans)
        except Exception as exc:
            _HELD.last = repr(exc)
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.exported += len(spans)
        else:
            self.failures.record("traces")
        return result


class _MetricExporter(OTLPMetricExporter):
    """The OTLP/HTTP metric exporter, counting failed batches and never raising."""

    def __init__(self, failures: ExportFailures, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failures = failures
        self.exported = 0

    def export(
        self, metrics_data: MetricsData, timeout_millis: float | None = None, **kwargs: Any
    ) -> MetricExportResult:
        try:
            result = super().export(metrics_data, timeout_millis, **kwargs)
        except Exception as exc:
            _HELD.last = repr(exc)
            result = MetricExportResult.FAILURE
        if result is MetricExportResult.SUCCESS:
            self.exported += 1
        else:
            self.failures.record("metrics")
        return result


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _put(attrs: dict[str, AttributeValue], key: str, value: AttributeValue | None) -> None:
    if value is not None and value != "":
        attrs[key] = value


def _common(event: GatewayRequestEvent) -> dict[str, AttributeValue]:
    """The attributes spans and metrics share (low cardinality)."""
    attrs: dict[str, AttributeValue] = {
        "gen_ai.operation.name": _OPERATIONS.get(event.protocol, "chat"),
    }
    _put(attrs, "gen_ai.provider.name", event.selected_provider or event.requested_provider)
    _put(attrs, "gen_ai.request.model", event.requested_model)
    _put(attrs, "gen_ai.response.model", event.selected_model)
    if event.status == "error":
        attrs["error.type"] = event.error_class or (str(event.http_status) if event.http_status else "_OTHER")
    return attrs


def span_attributes(event: GatewayRequestEvent, *, store_prompts: bool) -> dict[str, AttributeValue]:
    """Every attribute of ``event``'s span: the GenAI conventions', then ours (``stackbilt.*``)."""
    attrs = _common(event)
    # The conventions count every input token, cache reads and writes included.
    attrs["gen_ai.usage.input_tokens"] = (
        event.input_tokens + event.cache_read_tokens + event.cache_write_tokens
    )
    attrs["gen_ai.usage.output_tokens"] = event.output_tokens
    attrs["gen_ai.usage.cache_read.input_tokens"] = event.cache_read_tokens
    attrs["gen_ai.usage.cache_creation.input_tokens"] = event.cache_write_tokens
    if event.reasoning_tokens:
        attrs["gen_ai.usage.reasoning.output_tokens"] = event.reasoning_tokens
    _put(attrs, "gen_ai.conversation.id", event.session_id)
    if event.stop_reason:
        attrs["gen_ai.response.finish_reasons"] = [event.stop_reason]
    if event.stream and event.ttfb_ms is not None:
        attrs["gen_ai.response.time_to_first_chunk"] = event.ttfb_ms / 1000
    ours: dict[str, AttributeValue | None] = {
        "request_id": event.id,
        "protocol": event.protocol,
        "client": event.client,
        "repository": event.repo,
        "branch": event.branch,
        "mode": event.mode,
        "status": event.status,
        "http_status": event.http_status,
        "stream": event.stream,
        "route_class": event.route_class,
        "route_confidence": event.confidence,
        "requested.provider": event.requested_provider,
        "requested.model": event.requested_model,
        "served.provider": event.selected_provider,
        "served.model": event.selected_model,
        "would.provider": event.would_provider,
        "would.model": event.would_model,
        "cost_usd": event.cost_usd,
        "would_cost_usd": event.would_cost_usd,
        "savings_usd": event.savings_usd,
        "cost_estimated": event.cost_estimated,
        "usage_estimated": event.usage_estimated,
        "cache_status": event.cache_status,
        "cache_write_1h_tokens": event.cache_write_1h_tokens or None,
        "ttfb_ms": event.ttfb_ms,
    }
    for key, value in ours.items():
        _put(attrs, "stackbilt." + key, value)
    if event.fallback_chain:
        attrs["stackbilt.fallback_chain"] = [
            f"{a.provider}/{a.model}={a.status}" + (f":{a.error}" if a.error else "")
            for a in event.fallback_chain
        ]
    if store_prompts and event.prompt:
        attrs["stackbilt.prompt"] = redact(event.prompt)
    return attrs


class OtlpExporter:
    """The OTLP sink: ``emit`` a finished event (cheap, never raises, never blocks); ``shutdown``
    sends what is left within the export timeout."""

    def __init__(self, settings: OtlpSettings, *, store_prompts: bool = False, version: str = "") -> None:
        assert settings.endpoint, "OtlpExporter needs telemetry.otlp.endpoint"
        base = settings.endpoint.rstrip("/")
        self.store_prompts = store_prompts
        self.timeout = settings.timeout_seconds
        self.failures = ExportFailures(base)
        self.failed = 0
        self.emitted = 0
        for value in settings.headers.values():
            remember_secret(value)  # a header is often a credential: never in a log line
        _hold_back_exporter_logs()
        headers = dict(settings.headers) or None
        resource = Resource.create({"service.name": SERVICE_NAME, "service.version": version})
        self.span_exporter = _SpanExporter(
            self.failures, endpoint=f"{base}/v1/traces", headers=headers, timeout=self.timeout
        )
        self._spans = BatchSpanProcessor(
            self.span_exporter, max_queue_size=MAX_QUEUE, max_export_batch_size=BATCH
        )
        self._tracer_provider = TracerProvider(resource=resource)
        self._tracer_provider.add_span_processor(self._spans)
        self._tracer = self._tracer_provider.get_tracer(SCOPE, version)
        self.metric_exporter = _MetricExporter(
            self.failures, endpoint=f"{base}/v1/metrics", headers=headers, timeout=self.timeout
        )
        reader = PeriodicExportingMetricReader(
            self.metric_exporter,
            export_interval_millis=settings.export_interval_seconds * 1000,
            export_timeout_millis=self.timeout * 1000,
        )
        self._meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        meter = self._meter_provider.get_meter(SCOPE, version)
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._cost = meter.create_counter(
            "stackbilt.cost", unit="USD", description="What the served requests cost (priced by the gateway)"
        )
        self._closed = False

    def emit(self, event: GatewayRequestEvent) -> None:
        """Hand ``event`` to the exporters (the SDK queues it); a failure here costs only it."""
        if self._closed:
            return
        try:
            self._span(event)
            self._metrics(event)
            self.emitted += 1
        except Exception:
            self.failed += 1
            if self.failed == 1 or self.failed % 1000 == 0:
                log.exception("telemetry.otlp: exporting event %s failed (%d so far)", event.id, self.failed)

    def _span(self, event: GatewayRequestEvent) -> None:
        attrs = span_attributes(event, store_prompts=self.store_prompts)
        end = event.ts
        start = end - (event.latency_ms or 0.0) / 1000
        operation = str(attrs["gen_ai.operation.name"])
        name = f"{operation} {event.requested_model}" if event.requested_model else operation
        span = self._tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attrs, start_time=_ns(start))
        if event.status == "error":
            span.set_status(Status(StatusCode.ERROR, event.error_class))
        span.end(end_time=_ns(end))

    def _metrics(self, event: GatewayRequestEvent) -> None:
        attrs = _common(event)
        if event.latency_ms is not None:
            self._duration.record(event.latency_ms / 1000, attrs)
        if event.status != "error" or event.input_tokens or event.output_tokens:
            total_input = event.input_tokens + event.cache_read_tokens + event.cache_write_tokens
            self._tokens.record(total_input, {**attrs, "gen_ai.token.type": "input"})
            self._tokens.record(event.output_tokens, {**attrs, "gen_ai.token.type": "output"})
        if event.cost_usd:
            cost_attrs = {k: v for k, v in attrs.items() if k != "gen_ai.request.model"}
            _put(cost_attrs, "stackbilt.route_class", event.route_class)
            cost_attrs["stackbilt.mode"] = event.mode
            self._cost.add(event.cost_usd, cost_attrs)

    def shutdown(self) -> None:
        """Send what is queued and stop: spans and metrics at once, within the export timeout
        (plus half a second); past it what is left is dropped and retries are cut short."""
        if self._closed:
            return
        self._closed = True
        budget = self.timeout + 0.5
        stops = [
            threading.Thread(
                target=_quietly, args=(self._spans.shutdown,), name="otlp-stop-spans", daemon=True
            ),
            threading.Thread(
                target=_quietly,
                args=(lambda: self._meter_provider.shutdown(timeout_millis=budget * 1000),),
                name="otlp-stop-metrics",
                daemon=True,
            ),
        ]
        deadline = time.monotonic() + budget
        for stop in stops:
            stop.start()
        for stop in stops:
            stop.join(max(0.0, deadline - time.monotonic()))
        if any(stop.is_alive() for stop in stops):
            log.warning("telemetry.otlp: the collector did not take the last data within %.1fs", budget)
            _quietly(self.span_exporter.shutdown)  # cuts a retry wait short
            _quietly(self.metric_exporter.shutdown)
        self.failures.close()
        if self.failures.count or self.failed:
            log.warning(
                "telemetry.otlp: %d spans exported; %d export batches failed, %d events not exported",
                self.span_exporter.exported,
                self.failures.count,
                self.failed,
            )


def _quietly(stop: Callable[[], object]) -> None:
    try:
        stop()
    except Exception:
        log.exception("telemetry.otlp: stopping the export failed")


__all__ = ["ExportFailures", "OtlpExporter", "span_attributes"]
