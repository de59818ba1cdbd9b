"""``POST /v1/chat``: the specification's exact request and response, its exact rate-limit error,
streaming, and a malformed envelope named field by field."""

from __future__ import annotations

import json

import httpx
import pytest

from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.e2e.conftest import wait_events
from tests.governance.conftest import Start, new_client

CONFIG = Config(aliases={"default-chat": "groq/llama-3.3-70b-versatile"})
SPEC_REQUEST = {
    "client_id": "dev-local-1",
    "model": "default-chat",
    "messages": [{"role": "user", "content": "Summarise the release notes"}],
    "metadata": {"request_id": "req-123"},
}


def post(url: str, key: str, body: object) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat", json=body, headers={"authorization": f"Bearer {key}"}, timeout=10)


def test_the_specification_request_gets_the_exact_response_shape(
    start_gateway: Start, upstream: FakeUpstream
) -> None:
    gw = start_gateway(CONFIG)
    key = new_client("dev-local-1", rpm=1)
    r = post(gw.url, key, SPEC_REQUEST)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"id", "model", "provider", "usage", "message"}
    assert body["id"] == "req-123"
    assert (body["provider"], body["model"]) == ("groq", "llama-3.3-70b-versatile")
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    u = body["usage"]
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"] > 0
    assert body["message"]["role"] == "assistant" and body["message"]["content"].startswith("FAKE_REPLY")
    (call,) = upstream.calls("/chat/completions")
    assert "Summarise the release notes" in call.raw.decode()
    # Over the limit: exactly the specification's error, with retry-after, nothing upstream.
    r = post(gw.url, key, SPEC_REQUEST)
    assert r.status_code == 429
    assert r.json() == {
        "error": {"type": "rate_limit_exceeded", "message": "Request rate exceeded for client_id dev-local-1"}
    }
    assert int(r.headers["retry-after"]) >= 1
    assert len(upstream.calls("/chat/completions")) == 1
    events = wait_events(gw, 2)
    assert [e["client_id"] for e in events] == ["dev-local-1", "dev-local-1"]
    assert [e["status"] for e in events] == ["refused", "ok"]


def test_stream_sends_the_content_as_sse(start_gateway: Start, upstream: FakeUpstream) -> None:
    gw = start_gateway(CONFIG)
    key = new_client("svc")
    r = post(gw.url, key, {**SPEC_REQUEST, "client_id": "svc", "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [
        (block.split("\n")[0][7:], json.loads(block.split("\n")[1][6:]))
        for block in r.text.strip().split("\n\n")
    ]
    deltas = "".join(d["content"] for name, d in events if name == "delta")
    name, done = events[-1]
    assert name == "done" and done["message"]["content"] == deltas and deltas.startswith("FAKE_REPLY")
    assert done["usage"]["total_tokens"] > 0 and done["provider"] == "groq"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"model": None}, "model"),
        ({"model": "no-such-alias"}, "unknown alias"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"client_id": 7}, "client_id"),
        ({"metadata": {"request_id": 1}}, "metadata.request_id"),
        ({"stream": "yes"}, "stream"),
    ],
)
def test_a_malformed_envelope_is_a_400_naming_the_field(
    start_gateway: Start, upstream: FakeUpstream, change: dict[str, object], field: str
) -> None:
    gw = start_gateway(CONFIG)
    key = new_client("svc")
    body = {**SPEC_REQUEST, "client_id": "svc", **change}
    if change.get("model", "") is None:
        del body["model"]
    r = post(gw.url, key, body)
    assert r.status_code == 400
    err = r.json()["error"]
    assert set(r.json()) == {"error"} and set(err) == {"type", "message"}
    assert err["type"] == "invalid_request" and field in err["message"]
    assert upstream.calls("/chat/completions") == []


def test_unknown_key_on_the_envelope_is_a_401_in_its_shape(start_gateway: Start) -> None:
    gw = start_gateway(CONFIG)
    r = post(gw.url, "sgw-c-wrong", SPEC_REQUEST)
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "authentication_error" and set(r.json()) == {"error"}
