"""/v1/messages over real sockets: pass-through to an Anthropic upstream and translation to a
Chat Completions upstream, streaming and not, with errors before and after the first byte."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.fakes.gateway import GatewayThread

pytestmark = pytest.mark.e2e


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.strip().split("\n\n"):
        name, data = None, None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if name and data is not None:
            out.append((name, data))
    return out


def body(model: str, text: str, *, stream: bool, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 1024,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def test_passthrough_stream_relays_upstream_bytes_and_keeps_client_headers(
    gateway: GatewayThread, upstream: FakeUpstream, auth: dict[str, str]
) -> None:
    headers = {
        **auth,
        "anthropic-beta": "b2,a1",
        "x-app": "cli",
        "user-agent": "claude-cli/9 (external)",
        "x-claude-code-session-id": "s-1",
    }
    payload = body("claude-opus-5-5", "hello there", stream=True)
    raw = json.dumps(payload, indent=1).encode()  # unusual formatting must survive byte-for-byte
    r = httpx.post(f"{gateway.url}/v1/messages?beta=true", content=raw, headers=headers, timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    names = [n for n, _ in sse_events(r.text)]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert (
        "".join(d["delta"]["text"] for n, d in sse_events(r.text) if n == "content_block_delta")
        == "FAKE_REPLY 2 words. Done."
    )
    (rec,) = upstream.calls("/v1/messages")
    assert rec.raw == raw, "unchanged bodies are forwarded byte for byte"
    assert rec.query == "beta=true"
    assert rec.headers["x-api-key"] == "sk-ant-fake-upstream-key"
    assert "authorization" not in {k.lower() for k in rec.headers}
    assert rec.headers["anthropic-beta"] == "b2,a1"
    assert rec.headers["x-app"] == "cli" and rec.headers["x-claude-code-session-id"] == "s-1"
    assert rec.headers["User-Agent"] == "claude-cli/9 (external)"
    assert r.headers["request-id"].startswith("req_fake_")


def test_passthrough_maps_pinned_model_name(
    gateway: GatewayThread, upstream: FakeUpstream, auth: dict[str, str]
) -> None:
    r = httpx.post(
        f"{gateway.url}/v1/messages",
        json=body("anthropic/claude-haiku-4-5", "hi", stream=False),
        headers=auth,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert upstream.calls("/v1/messages")[0].body["model"] == "claude-haiku-4-5"
    assert r.json()["content"][0]["text"].startswith("FAKE_REPLY")


def test_passthrough_relays_upstream_error_intact(
    gateway: GatewayThread, upstream: FakeUpstream, auth: dict[str, str]
) -> None:
    upstream.fail_next(429, headers={"retry-after": "7"})
    r = httpx.post(
        f"{gateway.url}/v1/messages",
        json=body("claude-opus-5-5", "hi", stream=True),
        headers=auth,
        timeout=10,
    )
    assert r.status_code == 429
    assert r.headers["retry-after"] == "7"
    assert r.json()["error"] == {"type": "rate_limit_error", "message": "fake upstream error 429"}


def test_translated_stream_to_chat_upstream(
    gateway: GatewayThread, upstream: FakeUpstream, auth: dict[str, str]
) -> None:
    r = httpx.post(
        f"{gateway.url}/v1/messages",
        json=body(
            "groq/llama-3.3-70b-versatile",
            "RUN_BASH: echo hi",
            stream=True,
            system=[{"type": "text", "text": "SYS", "cache_control": {"type": "ephemeral"}}],
        ),
        headers=auth,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    events = sse_events(r.text)
    names = [n for n, _ in events]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert events[0][1]["message"]["model"] == "groq/llama-3.3-70b-versatile"
    starts = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert [b["type"] for b in starts] == ["tool_use"], "no empty text block before the tool call"
    args = "".join(d["delta"]["partial_json"] for n, d in events if n == "content_block_delta")
    assert json.loads(args) == {"command": "echo hi", "description": "Run the command"}
    delta = next(d for n, d in events if n == "message_delta")
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"]["cache_read_input_tokens"] == 300 and delta["usage"]["input_tokens"] == 200
    (rec,) = upstream.calls("/chat/completions")
    assert rec.headers["Authorization"] == "Bearer gsk-fake-upstream-key"
    assert rec.body["model"] == "llama-3.3-70b-versatile"
    assert rec.body["messages"][0] == {"role": "system", "content": "SYS"}
    assert "cache_control" not in rec.raw.decode()


def test_translated_upstream_error_before_stream_is_anthropic_error(
    gateway: GatewayThread, upstream: FakeUpstream, auth: dict[str, str]
) -> None:
    upstream.fail_next(429, headers={"retry-after": "3"})
    r = httpx.post(
        f"{gateway.url}/v1/messages",
        json=body("groq/llama-3.3-70b-versatile", "hi", stream=True),
        headers=auth,
        timeout=10,
    )
    assert r.status_code == 429
    assert r.headers["retry-after"] == "3"
    assert r.json()["error"]["type"] == "rate_limit_error"
    assert "fake upstream error 429" in r.json()["error"]["message"]


def test_translated_midstream_drop_becomes_error_event(
    gateway: GatewayThread, upstream: FakeUpstream, auth: dict[str, str]
) -> None:
    upstream.fail_next(200, mode="midstream")
    r = httpx.post(
        f"{gateway.url}/v1/messages",
        json=body("groq/llama-3.3-70b-versatile", "hello there friend", stream=True),
        headers=auth,
        timeout=10,
    )
    assert r.status_code == 200
    events = sse_events(r.text)
    assert events[0][0] == "message_start"
    assert events[-1][0] == "error"
    assert "message_stop" not in [n for n, _ in events]


def test_passthrough_midstream_drop_becomes_error_event(
    gateway: GatewayThread, upstream: FakeUpstream, auth: dict[str, str]
) -> None:
    upstream.fail_next(200, mode="midstream")
    r = httpx.post(
        f"{gateway.url}/v1/messages",
        json=body("claude-opus-5-5", "hello", stream=True),
        headers=auth,
        timeout=10,
    )
    assert r.status_code == 200
    tail = r.text.rsplit("\n\n", 2)[-2]
    assert tail.startswith("event: error"), r.text[-300:]
    assert json.loads(tail.split("data: ", 1)[1])["type"] == "error"
