"""OpenTelemetry export end to end: the real gateway exports each request as a GenAI span and the
GenAI metrics over OTLP/HTTP to a real receiver, decoded with the official protobuf messages; an
unreachable collector neither slows nor breaks serving; and the ``telemetry.otlp`` settings load
and validate."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from stackbilt_gateway.daemon.config_load import load_config
from stackbilt_gateway.daemon.control.paths import resolve_paths
from stackbilt_gateway.daemon.core.config import Config, ConfigError, OtlpSettings, TelemetrySettings
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.e2e.conftest import upstream_env
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread, free_port

pytestmark = pytest.mark.e2e

AUTH = {
    "x-api-key": GATEWAY_KEY,
    "anthropic-version": "2023-06-01",
    "user-agent": "claude-cli/2.1.330 (external)",
}
SUMMARY = "Please summarize this paragraph: the gateway routes cheap turns to cheap providers."
SECRET_PROMPT = "Please summarize this: my token=ghp_SECRETsecretSECRETsecret1234 is in the paragraph."
ROUTES = {"summary": ("groq/llama-3.1-8b-instant", "requested")}


# --- a real OTLP/HTTP receiver ----------------------------------------------------------------


@dataclass
class Receiver:
    spans: list[tuple[dict[str, Any], Span]] = field(default_factory=list)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                    if self.path == "/v1/traces":
                        traces = ExportTraceServiceRequest.FromString(body)
                        for rs in traces.resource_spans:
                            resource = _attrs(rs.resource.attributes)
                            receiver.spans += [(resource, s) for ss in rs.scope_spans for s in ss.spans]
                        reply = ExportTraceServiceResponse().SerializeToString()
                    elif self.path == "/v1/metrics":
                        receiver.metrics.append(ExportMetricsServiceRequest.FromString(body))
                        reply = ExportMetricsServiceResponse().SerializeToString()
                    else:
                        self.send_error(404)
                        return
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def points(self, name: str) -> list[Any]:
        """The data points of metric ``name`` in the latest export that has it (cumulative)."""
        with self.lock:
            for request in reversed(self.metrics):
                found = [
                    m
                    for rm in request.resource_metrics
                    for sm in rm.scope_metrics
                    for m in sm.metrics
                    if m.name == name
                ]
                if found:
                    (metric,) = found
                    kind = metric.WhichOneof("data")
                    return list(getattr(metric, kind).data_points)
        raise AssertionError(f"no export carried {name}")


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind)


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs if isinstance(kv, KeyValue)}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _config(endpoint: str, *, store_prompts: bool = False, timeout: float = 2.0) -> Config:
    otlp = OtlpSettings(
        endpoint=endpoint, headers={"x-team": "ops"}, timeout_seconds=timeout, export_interval_seconds=0.5
    )
    return Config(routes=dict(ROUTES), telemetry=TelemetrySettings(store_prompts=store_prompts, otlp=otlp))


def ask(gw: GatewayThread, text: str, *, stream: bool = False, session: str = "s-otel") -> httpx.Response:
    body = {
        "model": "claude-opus-5-5",
        "max_tokens": 300,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }
    headers = {**AUTH, "x-claude-code-session-id": session}
    return httpx.post(f"{gw.url}/v1/messages", json=body, headers=headers, timeout=10)


def events(gw: GatewayThread, n: int) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + 10
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = httpx.get(f"{gw.url}/events/recent", headers=AUTH, timeout=5).json()["events"]
        if len(rows) >= n:
            return {row["id"]: row for row in rows}
        time.sleep(0.05)
    raise AssertionError(f"expected {n} events, found {len(rows)}")


def set_mode(gw: GatewayThread, mode: str) -> None:
    r = httpx.post(f"{gw.url}/control/mode", json={"mode": mode}, headers=AUTH, timeout=5)
    assert r.json() == {"mode": mode}


# --- export ------------------------------------------------------------------------------------


def test_pass_through_and_translated_requests_export_genai_spans_and_metrics(
    fake_upstream: FakeUpstream, receiver: Receiver
) -> None:
    fake_upstream.reset()
    gw = GatewayThread(env=upstream_env(fake_upstream), config=_config(receiver.url)).start()
    try:
        assert ask(gw, SUMMARY).status_code == 200  # shadow: the requested Anthropic model, pass-through
        set_mode(gw, "live")
        # Live, a new session: Groq over Chat, translated.
        assert ask(gw, SUMMARY, stream=True, session="s-otel-2").status_code == 200
        assert fake_upstream.calls("/v1/messages") and fake_upstream.calls("/chat/completions")
        stored = events(gw, 2)
    finally:
        gw.stop()  # shutdown sends what is queued

    assert len(receiver.spans) == 2
    for headers in receiver.headers:
        assert headers["x-team"] == "ops" and headers["content-type"] == "application/x-protobuf"
    by_id = {_attrs(span.attributes)["stackbilt.request_id"]: (res, span) for res, span in receiver.spans}
    assert by_id.keys() == stored.keys()

    for request_id, (resource, span) in by_id.items():
        ev, a = stored[request_id], _attrs(span.attributes)
        assert resource["service.name"] == "stackbilt-gateway"
        assert span.kind == Span.SPAN_KIND_CLIENT
        assert span.name == "chat claude-opus-5-5"
        # Explicit times: the span ends when the request finished and lasts its latency.
        assert span.end_time_unix_nano == pytest.approx(ev["ts"] * 1e9, abs=2e6)
        assert (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6 == pytest.approx(
            ev["latency_ms"], abs=0.01
        )
        assert a["gen_ai.operation.name"] == "chat"
        assert a["gen_ai.request.model"] == "claude-opus-5-5"
        assert a["gen_ai.conversation.id"] == ev["session_id"] and ev["session_id"].startswith("s-otel")
        total_input = ev["input_tokens"] + ev["cache_read_tokens"] + ev["cache_write_tokens"]
        assert a["gen_ai.usage.input_tokens"] == total_input > 0
        assert a["gen_ai.usage.output_tokens"] == ev["output_tokens"] > 0
        assert a["gen_ai.usage.cache_read.input_tokens"] == ev["cache_read_tokens"]
        assert a["gen_ai.usage.cache_creation.input_tokens"] == ev["cache_write_tokens"]
        assert a["stackbilt.cost_usd"] == pytest.approx(ev["cost_usd"]) and ev["cost_usd"] > 0
        assert a["stackbilt.route_class"] == "summary"
        assert a["stackbilt.client"] == "claude-code"
        assert (a["stackbilt.requested.provider"], a["stackbilt.requested.model"]) == (
            "anthropic",
            "claude-opus-5-5",
        )
        # Prompt content is never exported without store_prompts.
        assert "stackbilt.prompt" not in a
        assert not any("summarize" in str(v) for v in a.values())

    shadow = next(a for _, s in by_id.values() if (a := _attrs(s.attributes))["stackbilt.mode"] == "shadow")
    assert shadow["gen_ai.provider.name"] == "anthropic"
    assert shadow["gen_ai.response.model"] == "claude-opus-5-5"
    assert shadow["gen_ai.usage.cache_read.input_tokens"] == 400
    assert shadow["gen_ai.usage.cache_creation.input_tokens"] == 30
    assert (shadow["stackbilt.would.provider"], shadow["stackbilt.would.model"]) == (
        "groq",
        "llama-3.1-8b-instant",
    )
    assert shadow["stackbilt.stream"] is False and "gen_ai.response.time_to_first_chunk" not in shadow
    # Why the model stopped: the pass-through body's stop_reason, as the event stores it.
    assert shadow["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert {ev["stop_reason"] for ev in stored.values()} == {"end_turn"}

    live = next(a for _, s in by_id.values() if (a := _attrs(s.attributes))["stackbilt.mode"] == "live")
    assert live["gen_ai.provider.name"] == "groq"
    assert live["gen_ai.response.model"] == "llama-3.1-8b-instant"
    assert (live["stackbilt.served.provider"], live["stackbilt.served.model"]) == (
        "groq",
        "llama-3.1-8b-instant",
    )
    assert live["stackbilt.fallback_chain"] == ["groq/llama-3.1-8b-instant=ok"]
    assert live["stackbilt.protocol"] == "anthropic" and live["stackbilt.stream"] is True
    assert 0 < live["gen_ai.response.time_to_first_chunk"] <= live["stackbilt.ttfb_ms"] / 1000 + 1e-9
    # The translated stream's stop reason (the IR's, from the Chat chunk's finish_reason "stop").
    assert live["gen_ai.response.finish_reasons"] == ["end_turn"]

    # Metrics: token usage by type, duration and cost, per served provider.
    tokens = receiver.points("gen_ai.client.token.usage")
    for ev in stored.values():
        provider = ev["selected_provider"]
        got = {
            _attrs(p.attributes)["gen_ai.token.type"]: p
            for p in tokens
            if _attrs(p.attributes)["gen_ai.provider.name"] == provider
        }
        assert got.keys() == {"input", "output"}
        assert got["input"].count == 1
        assert got["input"].sum == ev["input_tokens"] + ev["cache_read_tokens"] + ev["cache_write_tokens"]
        assert got["output"].sum == ev["output_tokens"]
        assert _attrs(got["input"].attributes)["gen_ai.response.model"] == ev["selected_model"]
    durations = receiver.points("gen_ai.client.operation.duration")
    assert sorted(p.count for p in durations) == [1, 1]
    assert sum(p.sum for p in durations) == pytest.approx(
        sum(e["latency_ms"] for e in stored.values()) / 1000
    )
    costs = receiver.points("stackbilt.cost")
    assert sum(p.as_double for p in costs) == pytest.approx(sum(e["cost_usd"] for e in stored.values()))
    assert {_attrs(p.attributes)["stackbilt.mode"] for p in costs} == {"shadow", "live"}


def test_prompts_are_exported_only_with_store_prompts_and_redacted(
    fake_upstream: FakeUpstream, receiver: Receiver
) -> None:
    fake_upstream.reset()
    gw = GatewayThread(env=upstream_env(fake_upstream), config=_config(receiver.url, store_prompts=True))
    gw.start()
    try:
        assert ask(gw, SECRET_PROMPT).status_code == 200
        events(gw, 1)
    finally:
        gw.stop()
    ((_, span),) = receiver.spans
    prompt = _attrs(span.attributes)["stackbilt.prompt"]
    assert prompt.startswith("Please summarize this: my token=")
    assert "ghp_SECRET" not in prompt and "***" in prompt


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that takes connections into its backlog and never answers (a hung collector)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


@pytest.mark.parametrize("collector", ["refused", "silent"])
def test_an_unreachable_collector_neither_slows_nor_breaks_serving(
    fake_upstream: FakeUpstream, caplog: pytest.LogCaptureFixture, silent_port: int, collector: str
) -> None:
    fake_upstream.reset()
    # "refused": nothing listens there; "silent": every export waits out its timeout.
    closed = f"http://127.0.0.1:{free_port() if collector == 'refused' else silent_port}"
    timeout = 1.0
    gw = GatewayThread(env=upstream_env(fake_upstream), config=_config(closed, timeout=timeout)).start()
    caplog.set_level(logging.INFO)
    n = 30
    try:
        slowest = 0.0
        for i in range(n):
            started = time.monotonic()
            r = ask(gw, f"{SUMMARY} ({i})", stream=i % 2 == 1)
            slowest = max(slowest, time.monotonic() - started)
            assert r.status_code == 200
            if i == 5:
                time.sleep(1.2)  # let metric exports fail meanwhile (every 0.5 s)
        assert len(events(gw, n)) == n, "every request still recorded"
        assert httpx.get(f"{gw.url}/health", timeout=5).status_code == 200
        # No request waited for an export (each takes up to the export timeout here).
        assert slowest < timeout / 2, f"a request took {slowest:.2f}s"
    finally:
        stopping = time.monotonic()
        gw.stop()
        stop_took = time.monotonic() - stopping
    assert stop_took < timeout + 5, f"shutdown took {stop_took:.1f}s"
    otlp_lines = [r.getMessage() for r in caplog.records if r.name.endswith("telemetry.otlp")]
    failures = [line for line in otlp_lines if "export batch(es) to " + closed in line]
    # Counted, and reported once for the interval (plus the remainder at shutdown), not per batch.
    assert 1 <= len(failures) <= 2, otlp_lines
    assert any("export batches failed" in line for line in otlp_lines), otlp_lines
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry.exporter")]


# --- settings ----------------------------------------------------------------------------------


def test_otlp_settings_load_and_validate(isolated_home: Path) -> None:
    paths = resolve_paths(dict(os.environ))
    assert load_config(env={}, paths=paths).telemetry.otlp == OtlpSettings()
    assert OtlpSettings().endpoint is None, "off by default"
    settings = {
        "endpoint": "http://127.0.0.1:4318/",
        "headers": {"x-team": "ops"},
        "protocol": "http/protobuf",
        "timeout_seconds": 2,
        "export_interval_seconds": 15,
    }
    Path("gateway.config.json").write_text(
        json.dumps({"telemetry": {"store_prompts": True, "otlp": settings}}), encoding="utf-8"
    )
    config = load_config(env={}, paths=paths)
    assert config.telemetry.store_prompts
    assert config.telemetry.otlp == OtlpSettings(
        endpoint="http://127.0.0.1:4318",
        headers={"x-team": "ops"},
        timeout_seconds=2.0,
        export_interval_seconds=15.0,
    )
    bad = [
        ({"protocol": "grpc"}, '"telemetry.otlp.protocol": expected "http/protobuf"'),
        ({"endpoint": "collector:4318"}, '"telemetry.otlp.endpoint": expected an http:// or https:// URL'),
        ({"headers": {"x team": "a"}}, '"telemetry.otlp.headers": expected an object of header names'),
        ({"headers": {"x-a": "a\r\nb: c"}}, '"telemetry.otlp.headers": expected an object of header names'),
        ({"timeout_seconds": 0}, '"telemetry.otlp.timeout_seconds": expected a number of seconds > 0'),
        ({"endpont": "http://x"}, 'did you mean "telemetry.otlp.endpoint"'),
    ]
    for otlp, message in bad:
        Path("gateway.config.json").write_text(json.dumps({"telemetry": {"otlp": otlp}}), encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_config(env={}, paths=paths)
        assert message in str(info.value), str(info.value)
