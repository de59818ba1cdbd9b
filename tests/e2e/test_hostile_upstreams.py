"""The real gateway against a hostile upstream on loopback (``simulator.hostile``).

A stream that never ends is cut by the configured total time or size; a huge SSE line and huge
tool-call arguments are cut at their fixed bounds; each cut ends the client's stream with its own
protocol's error event (never after the terminal event, never a truncated event before it). HTML,
plain-text and gzip-garbage error bodies reach the client as its protocol's JSON error with the
upstream status and a short excerpt; a real JSON error is still relayed intact. Every request
leaves exactly one telemetry row (``/events/recent``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from stackbilt_gateway.daemon.config_load import load_config
from stackbilt_gateway.daemon.control.paths import resolve_paths
from stackbilt_gateway.daemon.core.config import Config, ConfigError, Timeouts
from stackbilt_gateway.daemon.simulator.hostile import JSON_429, HostileUpstream
from stackbilt_gateway.daemon.wires.sse import SSEEvent, SSEParser
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

ANTHROPIC = "claude-opus-5-5"  # an Anthropic upstream
GROQ = "groq/llama-3.3-70b-versatile"  # a Chat upstream
MAX_CLIENT_BYTES = 64 * 1024 * 1024
CLIENT_SECONDS = 30.0


@dataclass(frozen=True)
class Route:
    """A client protocol and a model: pass-through or translated."""

    protocol: str  # "anthropic" | "chat"
    model: str

    @property
    def path(self) -> str:
        return "/v1/messages" if self.protocol == "anthropic" else "/v1/chat/completions"

    def headers(self) -> dict[str, str]:
        if self.protocol == "anthropic":
            return {"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01"}
        return {"authorization": f"Bearer {GATEWAY_KEY}"}


ANTHROPIC_PASS = Route("anthropic", ANTHROPIC)
ANTHROPIC_TO_CHAT = Route("anthropic", GROQ)
CHAT_PASS = Route("chat", GROQ)
CHAT_TO_ANTHROPIC = Route("chat", ANTHROPIC)
ROUTES = [ANTHROPIC_PASS, ANTHROPIC_TO_CHAT, CHAT_PASS, CHAT_TO_ANTHROPIC]


def env(upstream: HostileUpstream) -> dict[str, str]:
    return {
        "STACKBILT_ANTHROPIC_BASE_URL": upstream.url,
        "STACKBILT_GROQ_BASE_URL": upstream.url + "/v1",
        "ANTHROPIC_API_KEY": "sk-ant-hostile-test-key",
        "GROQ_API_KEY": "gsk-hostile-test-key",
    }


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileUpstream]:
    upstream = HostileUpstream().start()
    yield upstream
    upstream.stop()


def _gateway(upstream: HostileUpstream, timeouts: Timeouts) -> Iterator[GatewayThread]:
    gw = GatewayThread(env=env(upstream), config=Config(timeouts=timeouts)).start()
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def gw(hostile: HostileUpstream) -> Iterator[GatewayThread]:
    yield from _gateway(hostile, Timeouts())


@pytest.fixture(scope="module")
def gw_short(hostile: HostileUpstream) -> Iterator[GatewayThread]:
    """A gateway allowing one response 1 s in all."""
    yield from _gateway(hostile, Timeouts(stream_total=1.0))


@pytest.fixture(scope="module")
def gw_small(hostile: HostileUpstream) -> Iterator[GatewayThread]:
    """A gateway allowing one response 64 KiB in all."""
    yield from _gateway(hostile, Timeouts(stream_max_bytes=64 * 1024))


def body(route: Route, scenario: str, *, stream: bool = True) -> dict[str, object]:
    return {
        "model": route.model,
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": f"please HOSTILE_{scenario.upper()} now"}],
    }


@dataclass
class Streamed:
    status: int
    request_id: str
    events: list[SSEEvent]
    raw: bytes
    seconds: float


def stream(gw: GatewayThread, route: Route, scenario: str) -> Streamed:
    """POST a streaming request and read the whole answer (bounded in bytes and time)."""
    started = time.monotonic()
    parts: list[bytes] = []
    size = 0
    with httpx.stream(
        "POST",
        gw.url + route.path,
        json=body(route, scenario),
        headers=route.headers(),
        timeout=CLIENT_SECONDS,
    ) as r:
        for chunk in r.iter_raw():
            parts.append(chunk)
            size += len(chunk)
            assert size <= MAX_CLIENT_BYTES, "the gateway relayed an unbounded stream"
            assert time.monotonic() - started < CLIENT_SECONDS, "the gateway never ended the stream"
        status, request_id = r.status_code, r.headers["x-stackbilt-request-id"]
    raw = b"".join(parts)
    parser = SSEParser(max_event_bytes=MAX_CLIENT_BYTES)
    events = parser.feed(raw) + parser.flush()
    return Streamed(status, request_id, events, raw, time.monotonic() - started)


def assert_ends_with_error(result: Streamed, route: Route) -> dict[str, object]:
    """The stream's last event is the client protocol's well-formed error; no terminal event before
    it and every event before it is whole JSON. Returns the error object."""
    assert result.status == 200
    assert result.events, result.raw[:500]
    for event in result.events[:-1]:
        assert event.data != "[DONE]"
        payload = json.loads(event.data)  # no truncated event reached the client
        assert payload.get("type") not in ("message_stop", "error") and "error" not in payload
    last = result.events[-1]
    payload = json.loads(last.data)
    if route.protocol == "anthropic":
        assert last.event == "error" and payload["type"] == "error"
    else:
        assert last.event is None and set(payload) == {"error"}
    error = payload["error"]
    assert isinstance(error, dict) and isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str)
    return error


def rows_for(gw: GatewayThread, ids: list[str]) -> dict[str, dict[str, object]]:
    """The telemetry rows of ``ids``, waiting (bounded) for the writer; exactly one per request."""
    deadline = time.monotonic() + 10
    found: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        rows = httpx.get(
            f"{gw.url}/events/recent", params={"limit": 1000}, headers={"x-api-key": GATEWAY_KEY}, timeout=5
        ).json()["events"]
        found = [row for row in rows if row["id"] in ids]
        if {row["id"] for row in found} == set(ids):
            break
        time.sleep(0.05)
    assert sorted(str(row["id"]) for row in found) == sorted(ids), "one telemetry row per request"
    return {str(row["id"]): row for row in found}


def assert_recorded(gw: GatewayThread, result: Streamed, kind: str, status: int) -> None:
    row = rows_for(gw, [result.request_id])[result.request_id]
    assert (row["status"], row["error_class"], row["http_status"]) == ("error", kind, status), row


# --- streams cut by the configured total time and size ----------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.protocol}-{r.model}")
def test_an_endless_stream_is_cut_by_the_total_time(gw_short: GatewayThread, route: Route) -> None:
    result = stream(gw_short, route, "endless")
    error = assert_ends_with_error(result, route)
    assert "timeouts.stream_total" in str(error["message"])
    assert 0.9 < result.seconds < 10, result.seconds
    assert_recorded(gw_short, result, "upstream_timeout", 504)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.protocol}-{r.model}")
def test_an_endless_stream_is_cut_by_the_total_size(
    gw_small: GatewayThread, hostile: HostileUpstream, route: Route
) -> None:
    dropped = hostile.dropped
    result = stream(gw_small, route, "endless")
    error = assert_ends_with_error(result, route)
    assert "timeouts.stream_max_bytes" in str(error["message"])
    assert len(result.raw) < 2 * 64 * 1024 + 4096
    assert_recorded(gw_small, result, "upstream_protocol", 502)
    deadline = time.monotonic() + 5
    while hostile.dropped == dropped and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hostile.dropped > dropped, "the gateway kept reading the upstream after the cut"


def test_a_pass_through_cut_after_the_terminal_event_appends_nothing(gw_short: GatewayThread) -> None:
    for route in (ANTHROPIC_PASS, CHAT_PASS):
        result = stream(gw_short, route, "after_stop")
        assert result.status == 200
        kinds = [e.event or json.loads(e.data).get("object") for e in result.events if e.data != "[DONE]"]
        assert "error" not in kinds
        assert all("error" not in e.data for e in result.events)
        if route.protocol == "anthropic":
            assert "message_stop" in kinds
        else:
            assert "[DONE]" in [e.data for e in result.events]
        row = rows_for(gw_short, [result.request_id])[result.request_id]
        # The client has the whole answer: not an error status, but the cut is noted.
        assert row["http_status"] == 200 and row["error_class"] is None
        assert "timeouts.stream_total" in str(row["error_message"])


# --- fixed bounds: one SSE line, one tool call's arguments --------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.protocol}-{r.model}")
def test_a_huge_sse_line_ends_the_stream_with_an_error_event(gw: GatewayThread, route: Route) -> None:
    result = stream(gw, route, "huge_line")
    error = assert_ends_with_error(result, route)
    assert "larger than" in str(error["message"])
    assert len(result.raw) < 1024 * 1024, "the oversized line was relayed"
    assert_recorded(gw, result, "upstream_protocol", 502)


@pytest.mark.parametrize(
    "route", [ANTHROPIC_TO_CHAT, CHAT_TO_ANTHROPIC], ids=["anthropic-chat", "chat-anthropic"]
)
def test_huge_tool_arguments_on_a_translated_route_end_the_stream(gw: GatewayThread, route: Route) -> None:
    result = stream(gw, route, "huge_tool_args")
    error = assert_ends_with_error(result, route)
    assert "tool-call arguments longer than" in str(error["message"])
    assert_recorded(gw, result, "upstream_protocol", 502)


# --- error bodies that are not the wire's JSON --------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.protocol}-{r.model}")
@pytest.mark.parametrize(
    ("scenario", "status", "excerpt"),
    [
        ("html_502", 502, "(text/html): 502 Bad Gateway"),
        ("text_503", 503, "(text/plain): upstream connect error or disconnect/reset before headers"),
        ("gzip_500", 500, "(application/json, gzip-encoded): 2058 bytes of binary data"),
    ],
)
def test_a_non_json_error_body_becomes_the_client_protocols_error(
    gw: GatewayThread, route: Route, scenario: str, status: int, excerpt: str
) -> None:
    ids = []
    for streaming in (False, True):
        r = httpx.post(
            gw.url + route.path,
            json=body(route, scenario, stream=streaming),
            headers=route.headers(),
            timeout=CLIENT_SECONDS,
        )
        ids.append(r.headers["x-stackbilt-request-id"])
        assert r.status_code == status
        assert r.headers["content-type"].startswith("application/json")
        assert "content-encoding" not in r.headers
        payload = r.json()
        if route.protocol == "anthropic":
            assert payload["type"] == "error" and set(payload["error"]) == {"type", "message"}
        else:
            assert set(payload["error"]) >= {"message", "type"}
        message = payload["error"]["message"]
        assert f"HTTP {status} with a non-JSON body {excerpt}" in message, message
        assert len(message) < 400 and "<" not in message
        if scenario == "text_503":
            assert r.headers["retry-after"] == "7"
    rows = rows_for(gw, ids)
    assert {(row["status"], row["http_status"]) for row in rows.values()} == {("error", status)}


def test_a_json_error_body_is_still_relayed_intact(gw: GatewayThread) -> None:
    r = httpx.post(
        gw.url + ANTHROPIC_PASS.path,
        json=body(ANTHROPIC_PASS, "json_429", stream=False),
        headers=ANTHROPIC_PASS.headers(),
        timeout=CLIENT_SECONDS,
    )
    assert (r.status_code, r.content) == (429, JSON_429)
    assert (r.headers["retry-after"], r.headers["x-hostile"]) == ("3", "kept")
    row = rows_for(gw, [r.headers["x-stackbilt-request-id"]])[r.headers["x-stackbilt-request-id"]]
    assert (row["error_class"], row["http_status"]) == ("rate_limited", 429)


# --- the bounds are configuration ----------------------------------------------------------------


def test_the_stream_bounds_are_configured_and_validated(isolated_home: Path, tmp_path: Path) -> None:
    paths = resolve_paths(dict(os.environ))
    assert (Timeouts().stream_total, Timeouts().stream_max_bytes) == (1800.0, 512 * 1024 * 1024)
    config_file = tmp_path / "gateway.config.json"
    config_file.write_text(json.dumps({"timeouts": {"stream_total": 90, "stream_max_bytes": 4096}}))
    config = load_config(env={}, paths=paths, cwd=tmp_path)
    assert (config.timeouts.stream_total, config.timeouts.stream_max_bytes) == (90.0, 4096)
    for bad, expected in [
        ({"stream_total": 0}, '"timeouts.stream_total": expected a number of seconds > 0, got 0'),
        ({"stream_max_bytes": 10}, '"timeouts.stream_max_bytes": expected an integer >= 1024, got 10'),
        ({"stream_max_bytes": "big"}, '"timeouts.stream_max_bytes": expected an integer >= 1024, got "big"'),
    ]:
        config_file.write_text(json.dumps({"timeouts": bad}))
        with pytest.raises(ConfigError) as err:
            load_config(env={}, paths=paths, cwd=tmp_path)
        assert str(err.value) == f"gateway.config.json: {expected}"
