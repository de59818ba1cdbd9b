"""Routing end to end: shadow mode serves the requested route and records the would-be route,
live mode serves the plan, failures fall back before the first byte and drive the breaker,
and every request leaves one telemetry event with its fallback chain and costs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.e2e.conftest import upstream_env
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

AUTH = {
    "x-api-key": GATEWAY_KEY,
    "anthropic-version": "2023-06-01",
    "user-agent": "claude-cli/2.1.330 (external)",
}
SUMMARY = "Please summarize this paragraph: the gateway routes cheap turns to cheap providers."
# Summaries go to Groq first, then to the requested premium model.
ROUTES = {"summary": ("groq/llama-3.1-8b-instant", "requested")}


@pytest.fixture
def gw(fake_upstream: FakeUpstream) -> Iterator[GatewayThread]:
    fake_upstream.reset()
    gateway = GatewayThread(env=upstream_env(fake_upstream), config=Config(routes=dict(ROUTES))).start()
    yield gateway
    gateway.stop()


def ask(
    gw: GatewayThread, text: str, *, session: str = "s-2", stream: bool = False, **extra: Any
) -> httpx.Response:
    body = {
        "model": "claude-opus-5-5",
        "max_tokens": 300,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }
    return httpx.post(
        f"{gw.url}/v1/messages",
        json={**body, **extra},
        headers={**AUTH, "x-claude-code-session-id": session},
        timeout=10,
    )


def events(gw: GatewayThread, n: int, **params: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = httpx.get(f"{gw.url}/events/recent", params=params, headers=AUTH, timeout=5).json()["events"]
        if len(rows) >= n:
            return list(rows)
        time.sleep(0.05)
    raise AssertionError(f"expected {n} events, found {len(rows)}")


def set_mode(gw: GatewayThread, mode: str) -> httpx.Response:
    return httpx.post(f"{gw.url}/control/mode", json={"mode": mode}, headers=AUTH, timeout=5)


def test_shadow_mode_serves_requested_and_records_would_route(
    gw: GatewayThread, fake_upstream: FakeUpstream
) -> None:
    assert httpx.get(f"{gw.url}/health", timeout=5).json()["mode"] == "shadow"
    r = ask(gw, SUMMARY)
    assert r.status_code == 200
    assert fake_upstream.calls("/v1/messages") and not fake_upstream.calls("/chat/completions")
    (ev,) = events(gw, 1)
    assert ev["mode"] == "shadow" and ev["route_class"] == "summary"
    assert (ev["selected_provider"], ev["selected_model"]) == ("anthropic", "claude-opus-5-5")
    assert (ev["would_provider"], ev["would_model"]) == ("groq", "llama-3.1-8b-instant")
    assert ev["client"] == "claude-code" and ev["session_id"] == "s-2"
    assert ev["cache_read_tokens"] == 400 and ev["cache_write_tokens"] == 30
    assert ev["cost_usd"] > 0 and ev["would_cost_usd"] is not None
    stats = httpx.get(f"{gw.url}/shadow/stats", headers=AUTH, timeout=5).json()
    summary = next(c for c in stats["classes"] if c["route_class"] == "summary")
    assert summary["count"] == 1


def test_switching_to_live_changes_serving_without_restart(
    gw: GatewayThread, fake_upstream: FakeUpstream
) -> None:
    assert set_mode(gw, "live").json() == {"mode": "live"}
    r = ask(gw, SUMMARY)
    assert r.status_code == 200
    assert r.json()["content"][0]["text"].startswith("FAKE_REPLY")
    assert r.json()["model"] == "claude-opus-5-5", "the client still sees the model it asked for"
    (chat,) = fake_upstream.calls("/chat/completions")
    assert chat.body["model"] == "llama-3.1-8b-instant"
    assert not fake_upstream.calls("/v1/messages")
    (ev,) = events(gw, 1)
    assert ev["mode"] == "live" and ev["selected_provider"] == "groq"
    assert ev["fallback_chain"] == [
        {"provider": "groq", "model": "llama-3.1-8b-instant", "status": "ok", "error": None}
    ]
    # Back to shadow: the next turn goes to the requested model again.
    set_mode(gw, "shadow")
    ask(gw, SUMMARY)
    assert len(fake_upstream.calls("/v1/messages")) == 1


def test_live_tool_loop_stays_on_the_requested_model(gw: GatewayThread, fake_upstream: FakeUpstream) -> None:
    set_mode(gw, "live")
    messages = [
        {"role": "user", "content": "summarize the file"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "a"}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "file text"}],
        },
    ]
    tools = [{"name": "Read", "description": "read", "input_schema": {"type": "object", "properties": {}}}]
    r = ask(gw, "x", messages=messages, tools=tools)
    assert r.status_code == 200
    assert fake_upstream.calls("/v1/messages") and not fake_upstream.calls("/chat/completions")
    (ev,) = events(gw, 1)
    assert ev["route_class"] == "tool_loop" and ev["selected_provider"] == "anthropic"


@pytest.mark.parametrize(
    ("status", "mode"), [(500, "before"), (429, "before"), (529, "before")], ids=["500", "429", "529"]
)
def test_live_failure_falls_back_before_first_byte(
    gw: GatewayThread, fake_upstream: FakeUpstream, status: int, mode: str
) -> None:
    set_mode(gw, "live")
    fake_upstream.fail_next(status, mode=mode, path="/chat/completions")
    r = ask(gw, SUMMARY, stream=True)
    assert r.status_code == 200
    assert "text_delta" in r.text and r.text.rstrip().endswith('data: {"type": "message_stop"}')
    assert (
        len(fake_upstream.calls("/chat/completions")) == 1 and len(fake_upstream.calls("/v1/messages")) == 1
    )
    (ev,) = events(gw, 1)
    chain = ev["fallback_chain"]
    assert [(a["provider"], a["status"]) for a in chain] == [("groq", "error"), ("anthropic", "ok")]
    assert ev["selected_provider"] == "anthropic"


def test_connection_failure_falls_back(fake_upstream: FakeUpstream) -> None:
    fake_upstream.reset()
    env = {**upstream_env(fake_upstream), "STACKBILT_GROQ_BASE_URL": "http://127.0.0.1:9/v1"}
    gw = GatewayThread(env=env, config=Config(routes=dict(ROUTES), mode="live")).start()
    try:
        r = ask(gw, SUMMARY)
        assert r.status_code == 200
        (ev,) = events(gw, 1)
        assert [(a["provider"], a["status"], a["error"]) for a in ev["fallback_chain"]] == [
            ("groq", "error", "upstream_unavailable"),
            ("anthropic", "ok", None),
        ]
    finally:
        gw.stop()


def test_breaker_opens_and_skips_a_failing_provider(gw: GatewayThread, fake_upstream: FakeUpstream) -> None:
    set_mode(gw, "live")
    fake_upstream.fail_next(500, times=3, path="/chat/completions")
    for i in (0, 2, 3):  # separate sessions (none in the holdout): stickiness would keep them on the fallback
        assert ask(gw, SUMMARY, session=f"s-{i}").status_code == 200
    providers = httpx.get(f"{gw.url}/providers", headers=AUTH, timeout=5).json()["providers"]
    assert providers["groq"]["breaker"]["state"] == "open"
    assert httpx.get(f"{gw.url}/health", timeout=5).json()["degraded"] is True
    before = len(fake_upstream.calls("/chat/completions"))
    assert ask(gw, SUMMARY, session="s-new").status_code == 200
    assert len(fake_upstream.calls("/chat/completions")) == before, "an open breaker is not called"
    ev = events(gw, 4)[0]
    # The planner leaves an open provider out; the event says why.
    assert [a["provider"] for a in ev["fallback_chain"]] == ["anthropic"]
    assert any("groq" in reason for reason in ev["signals"]["plan_reasons"]), ev["signals"]


def test_last_candidate_error_reaches_the_client_intact(
    gw: GatewayThread, fake_upstream: FakeUpstream
) -> None:
    set_mode(gw, "live")
    fake_upstream.fail_next(500, path="/chat/completions")
    fake_upstream.fail_next(429, headers={"retry-after": "9"}, path="/v1/messages")
    r = ask(gw, SUMMARY)
    assert r.status_code == 429 and r.headers["retry-after"] == "9"
    assert r.json()["error"]["type"] == "rate_limit_error"
    (ev,) = events(gw, 1)
    assert ev["status"] == "error" and ev["http_status"] == 429 and ev["error_class"] == "rate_limited"


def test_mode_endpoint_validates_and_persists(fake_upstream: FakeUpstream) -> None:
    gw = GatewayThread(env=upstream_env(fake_upstream)).start()
    home = gw.home
    try:
        bad = httpx.post(f"{gw.url}/control/mode", json={"mode": "turbo"}, headers=AUTH, timeout=5)
        assert bad.status_code == 400 and "shadow" in bad.json()["error"]["message"]
        unauth = httpx.post(f"{gw.url}/control/mode", json={"mode": "live"}, timeout=5)
        assert unauth.status_code == 401
        foreign = httpx.post(
            f"{gw.url}/control/mode",
            json={"mode": "live"},
            headers={**AUTH, "origin": "https://evil.example"},
            timeout=5,
        )
        assert foreign.status_code == 403
        assert set_mode(gw, "live").status_code == 200
    finally:
        gw.stop()
    again = GatewayThread(env=upstream_env(fake_upstream), home=home).start()
    try:
        assert httpx.get(f"{again.url}/control/mode", headers=AUTH, timeout=5).json() == {"mode": "live"}
    finally:
        again.stop()


def test_events_survive_a_restart_and_metrics_aggregate(fake_upstream: FakeUpstream) -> None:
    fake_upstream.reset()
    gw = GatewayThread(env=upstream_env(fake_upstream)).start()
    home = gw.home
    try:
        for _ in range(2):
            assert ask(gw, "hello").status_code == 200
        events(gw, 2)
    finally:
        gw.stop()
    again = GatewayThread(env=upstream_env(fake_upstream), home=home).start()
    try:
        assert len(events(again, 2)) == 2
        metrics = httpx.get(f"{again.url}/metrics", params={"since": "today"}, headers=AUTH, timeout=5).json()
        assert metrics["totals"]["requests"] == 2
        assert {row["key"] for row in metrics["by_provider"]} == {"anthropic"}
        prom = httpx.get(f"{again.url}/metrics/prometheus", headers=AUTH, timeout=5).text
        assert 'stackbilt_requests_total{provider="anthropic"} 2' in prom
        summary = httpx.get(f"{again.url}/metrics/summary", headers=AUTH, timeout=5).json()
        assert summary["requests"] == 2 and summary["spend_usd"] > 0
    finally:
        again.stop()


def test_session_stickiness_keeps_a_session_on_its_provider(
    gw: GatewayThread, fake_upstream: FakeUpstream
) -> None:
    set_mode(gw, "live")
    fake_upstream.fail_next(500, path="/chat/completions")
    assert ask(gw, SUMMARY, session="sticky").status_code == 200  # fell back to Anthropic
    assert ask(gw, SUMMARY, session="sticky").status_code == 200
    assert len(fake_upstream.calls("/chat/completions")) == 1, "the session stayed where its cache is warm"
    assert ask(gw, SUMMARY, session="other").status_code == 200
    assert len(fake_upstream.calls("/chat/completions")) == 2


def test_failures_after_the_stream_started_open_the_breaker(
    gw: GatewayThread, fake_upstream: FakeUpstream
) -> None:
    set_mode(gw, "live")
    fake_upstream.fail_next(200, mode="midstream", times=3, path="/chat/completions")
    for i in range(3):
        r = ask(gw, SUMMARY, session=f"mid-{i}", stream=True)
        assert r.status_code == 200 and "event: error" in r.text
    providers = httpx.get(f"{gw.url}/providers", headers=AUTH, timeout=5).json()["providers"]
    assert providers["groq"]["breaker"]["state"] == "open"
    evs = events(gw, 3)
    assert all(ev["status"] == "error" and ev["selected_provider"] == "groq" for ev in evs)


def test_passthrough_429_with_only_retry_after_ms_sets_the_breaker_cooldown(
    gw: GatewayThread, fake_upstream: FakeUpstream
) -> None:
    # Anthropic pass-through (shadow mode serves the requested model); 120 s is far past the
    # breaker's own 30 s cooldown, so only the upstream's retry-after-ms can explain retry_at.
    fake_upstream.fail_next(429, headers={"retry-after-ms": "120000"}, times=3, path="/v1/messages")
    before = time.time()
    for i in range(3):
        r = ask(gw, "hello there", session=f"s-{i}")
        assert r.status_code == 429 and r.headers["retry-after-ms"] == "120000"  # relayed intact
    breaker = httpx.get(f"{gw.url}/providers", headers=AUTH, timeout=5).json()["providers"]["anthropic"][
        "breaker"
    ]
    assert breaker["state"] == "open"
    assert before + 110 < breaker["retry_at"] < time.time() + 125
