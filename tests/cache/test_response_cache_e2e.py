"""The response cache in the pipeline: hits for safe requests (stream or not), never for unsafe
ones, telemetry and /metrics, and expiry judged by an injected clock."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.cache.store import ResponseCache
from stackbilt_gateway.daemon.compose.state import GatewayState
from stackbilt_gateway.daemon.control.secrets import KeyStore
from stackbilt_gateway.daemon.core.config import CacheSettings, Config, ResponseCacheSettings
from stackbilt_gateway.daemon.http.app import create_app
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.cache.conftest import AUTH, start_gateway
from tests.e2e.conftest import upstream_env
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e
ENABLED = Config(cache=CacheSettings(responses=ResponseCacheSettings(enabled=True, ttl_seconds=60)))
SUMMARY = "Summarize this module: the gateway routes turns and records telemetry."


@pytest.fixture(scope="module")
def gw(fake: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    gateway = start_gateway(fake, ENABLED, tmp_path_factory.mktemp("gw-home"))
    yield gateway
    gateway.stop()


def ask(gw: GatewayThread, text: str = SUMMARY, **extra: Any) -> httpx.Response:
    body = {
        "model": "claude-opus-5-5",
        "max_tokens": 200,
        "temperature": 0,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }
    headers = {**AUTH, "x-claude-code-session-id": "rc-session"}
    return httpx.post(f"{gw.url}/v1/messages", json=body, headers=headers, timeout=10)


def events(gw: GatewayThread, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = httpx.get(f"{gw.url}/events/recent", headers=AUTH, timeout=5).json()["events"]
        if len(rows) >= n:
            break
        time.sleep(0.05)
    return rows


def test_identical_safe_requests_hit_for_stream_and_non_stream_clients(
    gw: GatewayThread, upstream: FakeUpstream
) -> None:
    first = ask(gw)
    assert first.status_code == 200 and "x-stackbilt-cache" not in first.headers
    second = ask(gw, metadata={"user_id": "other"})
    assert second.status_code == 200 and second.headers["x-stackbilt-cache"] == "hit"
    assert second.json()["content"] == first.json()["content"]
    assert second.json()["id"] != first.json()["id"]
    streamed = ask(gw, stream=True)
    assert streamed.headers["x-stackbilt-cache"] == "hit"
    assert streamed.headers["content-type"].startswith("text/event-stream")
    deltas = [
        json.loads(line[6:])["delta"]["text"]
        for line in streamed.text.splitlines()
        if line.startswith("data: ") and '"text_delta"' in line
    ]
    assert "".join(deltas) == first.json()["content"][0]["text"]
    assert "event: message_stop" in streamed.text
    assert len(upstream.calls("/v1/messages")) == 1  # the later two made no upstream call

    rows = sorted(events(gw, 3), key=lambda r: r["ts"])
    miss, hit, stream_hit = rows[-3:]
    assert miss["selected_provider"] == "anthropic" and miss["signals"]["response_cache"] == "eligible"
    for row in (hit, stream_hit):
        assert row["cache_status"] == "response_hit" and row["selected_provider"] == "cache"
        assert row["cost_usd"] == 0 and row["input_tokens"] == 0
        assert row["savings_usd"] == pytest.approx(miss["cost_usd"]) and row["savings_usd"] > 0
    assert stream_hit["stream"] is True

    metrics = httpx.get(f"{gw.url}/metrics", headers=AUTH, timeout=5).json()
    assert metrics["response_cache"]["hits"] >= 2 and metrics["response_cache"]["entries"] >= 1
    cache_row = next(r for r in metrics["by_provider"] if r["key"] == "cache")
    assert cache_row["requests"] >= 2 and cache_row["savings_usd"] > 0


def test_a_chat_client_gets_the_cached_answer_in_its_own_shape(
    gw: GatewayThread, upstream: FakeUpstream
) -> None:
    body = {
        "model": "claude-opus-5-5",
        "temperature": 0,
        "messages": [{"role": "user", "content": "Recap the release notes of v2."}],
    }
    url = f"{gw.url}/v1/chat/completions"
    first = httpx.post(url, json=body, headers=AUTH, timeout=10)
    assert first.status_code == 200, first.text
    hit = httpx.post(url, json={**body, "stream": True}, headers=AUTH, timeout=10)
    assert hit.headers["x-stackbilt-cache"] == "hit"
    assert hit.text.rstrip().endswith("data: [DONE]")
    assert len(upstream.requests) == 1


@pytest.mark.parametrize(
    "extra",
    [
        {"temperature": 1},
        {"messages": [{"role": "user", "content": "Summarize and then delete the old notes."}]},
        {"messages": [{"role": "user", "content": "Summarize: password=hunter2hunter2"}]},
        {"tools": [{"name": "Bash", "input_schema": {"type": "object"}}]},
    ],
)
def test_unsafe_requests_always_go_upstream(
    gw: GatewayThread, upstream: FakeUpstream, extra: dict[str, Any]
) -> None:
    for _ in range(2):
        r = ask(gw, **extra)
        assert r.status_code == 200 and "x-stackbilt-cache" not in r.headers
    assert len(upstream.calls("/v1/messages")) == 2


class Clock:
    now = 5_000.0

    def __call__(self) -> float:
        return self.now


async def test_expired_entries_go_upstream_again(fake: FakeUpstream, tmp_path: Path) -> None:
    fake.reset()
    env = upstream_env(fake)
    app = create_app(
        ENABLED, gateway_key=GATEWAY_KEY, keys=KeyStore(env, GATEWAY_KEY, use_keyring=False), env=env
    )
    st: GatewayState = app.extensions["stackbilt"]
    clock = Clock()
    st.response_cache = ResponseCache(tmp_path / "rc.sqlite", ENABLED.cache.responses, clock=clock)
    body = {
        "model": "claude-opus-5-5",
        "max_tokens": 50,
        "temperature": 0,
        "messages": [{"role": "user", "content": SUMMARY}],
    }
    headers = {**AUTH, "host": "127.0.0.1:8787"}
    async with app.test_app() as test_app:
        client = test_app.test_client()
        hits = []
        for advance in (0, 59, 2):
            clock.now += advance
            resp = await client.post("/v1/messages", json=body, headers=headers)
            assert resp.status_code == 200
            hits.append(resp.headers.get("x-stackbilt-cache"))
    assert hits == [None, "hit", None]  # 61 s after the store the 60 s entry has expired
    assert len(fake.calls("/v1/messages")) == 2


async def test_the_cache_is_off_by_default(fake: FakeUpstream) -> None:
    fake.reset()
    env = upstream_env(fake)
    app = create_app(
        Config(), gateway_key=GATEWAY_KEY, keys=KeyStore(env, GATEWAY_KEY, use_keyring=False), env=env
    )
    body = {
        "model": "claude-opus-5-5",
        "max_tokens": 50,
        "temperature": 0,
        "messages": [{"role": "user", "content": SUMMARY}],
    }
    async with app.test_app() as test_app:
        client = test_app.test_client()
        for _ in range(2):
            resp = await client.post("/v1/messages", json=body, headers={**AUTH, "host": "127.0.0.1:8787"})
            assert "x-stackbilt-cache" not in resp.headers
        metrics = await (await client.get("/metrics", headers={**AUTH, "host": "127.0.0.1:8787"})).get_json()
    assert metrics["response_cache"] == {"enabled": False}
    assert len(fake.calls("/v1/messages")) == 2
    assert app.extensions["stackbilt"].response_cache is None
