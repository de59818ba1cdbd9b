"""The HTTP app in-process (Quart test client, ``httpx.MockTransport`` as the upstream):
guards, validation before any upstream call, error shapes, timeouts, count_tokens, models."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from quart import Quart

from stackbilt_gateway.daemon.control.secrets import KeyStore
from stackbilt_gateway.daemon.core.config import Config, Timeouts
from stackbilt_gateway.daemon.http.app import create_app

KEY = "sgw-unit-test-key"
ENV = {"ANTHROPIC_API_KEY": "sk-ant-upstream", "GROQ_API_KEY": "gsk-upstream"}
AUTH = {"x-api-key": KEY, "host": "127.0.0.1:8787"}

Handler = Callable[[httpx.Request], Any]


class Upstream:
    def __init__(self, handler: Handler | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.handler = handler or (lambda r: httpx.Response(200, json=anthropic_message()))

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        result = self.handler(request)
        if asyncio.iscoroutine(result):
            result = await result
        return result  # type: ignore[no-any-return]


def anthropic_message(text: str = "hi") -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-5-5",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }


def make_app(upstream: Upstream, config: Config | None = None, env: dict[str, str] | None = None) -> Quart:
    env = ENV if env is None else env
    return create_app(
        config or Config(),
        gateway_key=KEY,
        keys=KeyStore(env, KEY, use_keyring=False),
        env=env,
        transport=httpx.MockTransport(upstream),
    )


async def post(
    app: Quart, path: str, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with app.test_app() as test_app:
        client = test_app.test_client()
        resp = await client.post(
            path, data=data, headers={**AUTH, "content-type": "application/json", **(headers or {})}
        )
        raw = await resp.get_data()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.decode()
    return resp.status_code, dict(resp.headers), parsed


def req(**over: Any) -> dict[str, Any]:
    return {
        "model": "claude-opus-5-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        **over,
    }


def assert_anthropic_error(body: Any, etype: str) -> str:
    assert body["type"] == "error"
    assert body["error"]["type"] == etype
    assert body["request_id"].startswith("req_gw_")
    return str(body["error"]["message"])


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1,2]", "JSON object"),
        (
            json.dumps({"model": "claude-opus-5-5", "messages": [{"role": "user", "content": "x"}]}).encode(),
            "max_tokens",
        ),
        (json.dumps(req(max_tokens="10")).encode(), "max_tokens"),
        (json.dumps(req(messages="hello")).encode(), "messages"),
        (json.dumps(req(model=5)).encode(), "model"),
        (json.dumps(req(temperature="hot")).encode(), "temperature"),
        (b"\xff\xfe{}", "JSON"),
    ],
)
async def test_bad_requests_are_400_before_any_upstream_call(payload: bytes, needle: str) -> None:
    upstream = Upstream()
    status, _, body = await post(make_app(upstream), "/v1/messages", payload)
    assert status == 400
    assert needle in assert_anthropic_error(body, "invalid_request_error")
    assert upstream.requests == []


async def test_oversized_body_is_413_request_too_large() -> None:
    upstream = Upstream()
    app = make_app(upstream, Config(max_body_bytes=1000))
    status, _, body = await post(app, "/v1/messages", req(messages=[{"role": "user", "content": "x" * 2000}]))
    assert status == 413
    assert "1000 bytes" in assert_anthropic_error(body, "request_too_large")
    assert upstream.requests == []


async def test_unknown_model_is_404_listing_what_exists() -> None:
    upstream = Upstream()
    status, _, body = await post(make_app(upstream), "/v1/messages", req(model="mystery-model-9"))
    assert status == 404
    message = assert_anthropic_error(body, "not_found_error")
    assert "mystery-model-9" in message and "groq" in message
    assert upstream.requests == []


@pytest.mark.parametrize(
    "headers",
    [{"x-api-key": "wrong"}, {"x-api-key": ""}, {"authorization": "Bearer nope"}],
)
async def test_wrong_gateway_key_is_401(headers: dict[str, str]) -> None:
    app = make_app(Upstream())
    async with app.test_app() as test_app:
        resp = await test_app.test_client().post(
            "/v1/messages", json=req(), headers={"host": "localhost", **headers}
        )
        body = await resp.get_json()
    assert resp.status_code == 401
    assert "stackbilt-gw key" in assert_anthropic_error(body, "authentication_error")


async def test_bearer_and_custom_header_authenticate() -> None:
    upstream = Upstream()
    for headers in ({"authorization": f"Bearer {KEY}"}, {"x-stackbilt-gateway-key": KEY}):
        status, _, _ = await post(make_app(upstream), "/v1/messages", req(), {"x-api-key": "", **headers})
        assert status == 200


async def test_non_loopback_host_is_refused() -> None:
    status, _, body = await post(make_app(Upstream()), "/v1/messages", req(), {"host": "evil.example:8787"})
    assert status == 403
    assert "loopback" in assert_anthropic_error(body, "permission_error")


async def test_allowed_hosts_extends_the_host_check() -> None:
    app = make_app(Upstream(), Config(allowed_hosts=("gw.internal",)))
    status, _, _ = await post(app, "/v1/messages", req(), {"host": "gw.internal:8787"})
    assert status == 200


async def test_foreign_origin_post_is_refused_but_loopback_origin_is_fine() -> None:
    upstream = Upstream()
    status, _, body = await post(
        make_app(upstream), "/v1/messages", req(), {"origin": "https://evil.example"}
    )
    assert status == 403
    assert_anthropic_error(body, "permission_error")
    status, _, _ = await post(make_app(upstream), "/v1/messages", req(), {"origin": "http://localhost:8787"})
    assert status == 200


async def test_health_is_open_and_other_paths_are_not() -> None:
    app = make_app(Upstream())
    async with app.test_app() as test_app:
        client = test_app.test_client()
        health = await client.get("/health", headers={"host": "127.0.0.1"})
        models = await client.get("/v1/models", headers={"host": "127.0.0.1"})
        probe = await client.head("/api/hello", headers={"host": "127.0.0.1"})
    assert health.status_code == 200 and (await health.get_json())["status"] == "ok"
    assert models.status_code == 401
    assert probe.status_code == 200


async def test_unknown_path_and_wrong_method_are_protocol_errors() -> None:
    app = make_app(Upstream())
    async with app.test_app() as test_app:
        client = test_app.test_client()
        missing = await client.post("/v1/nothing", json={}, headers=AUTH)
        wrong = await client.get("/v1/messages", headers=AUTH)
        missing_body, wrong_body = await missing.get_json(), await wrong.get_json()
    assert missing.status_code == 404 and missing_body["error"]["type"] == "not_found_error"
    assert wrong.status_code == 405 and wrong_body["error"]["type"] == "invalid_request_error"


async def test_missing_provider_key_is_clear_503() -> None:
    upstream = Upstream()
    status, _, body = await post(
        make_app(upstream, env={}), "/v1/messages", req(model="groq/llama-3.3-70b-versatile")
    )
    assert status == 503
    message = assert_anthropic_error(body, "api_error")
    assert "stackbilt-gw keys set groq" in message and "GROQ_API_KEY" in message
    assert upstream.requests == []


async def test_no_anthropic_key_and_no_client_credential_is_401_with_advice() -> None:
    status, _, body = await post(make_app(Upstream(), env={}), "/v1/messages", req())
    assert status == 401
    assert "x-stackbilt-gateway-key" in assert_anthropic_error(body, "authentication_error")


async def test_subscription_credential_is_forwarded_when_no_key_is_configured() -> None:
    upstream = Upstream()
    headers = {
        "x-api-key": "",
        "x-stackbilt-gateway-key": KEY,
        "authorization": "Bearer sk-ant-oat-subscription",
    }
    status, _, _ = await post(make_app(upstream, env={}), "/v1/messages", req(), headers)
    assert status == 200
    sent = upstream.requests[0].headers
    assert sent["authorization"] == "Bearer sk-ant-oat-subscription"
    assert "x-api-key" not in sent and "x-stackbilt-gateway-key" not in sent


async def test_configured_key_replaces_the_client_credential() -> None:
    upstream = Upstream()
    headers = {
        "x-api-key": "",
        "x-stackbilt-gateway-key": KEY,
        "authorization": "Bearer sk-ant-oat-subscription",
    }
    status, _, _ = await post(make_app(upstream), "/v1/messages", req(), headers)
    assert status == 200
    sent = upstream.requests[0].headers
    assert sent["x-api-key"] == "sk-ant-upstream" and "authorization" not in sent


async def test_gateway_key_in_provider_variable_is_never_sent_upstream() -> None:
    upstream = Upstream()
    status, _, body = await post(make_app(upstream, env={"ANTHROPIC_API_KEY": KEY}), "/v1/messages", req())
    assert status == 401
    assert_anthropic_error(body, "authentication_error")
    assert upstream.requests == []


async def test_first_byte_timeout_is_504_timeout_error() -> None:
    async def slow(_: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json=anthropic_message())

    app = make_app(Upstream(slow), Config(timeouts=Timeouts(first_byte=0.2)))
    status, _, body = await post(app, "/v1/messages", req())
    assert status == 504
    assert "timed out" in assert_anthropic_error(body, "timeout_error")


async def test_idle_timeout_mid_stream_becomes_error_event() -> None:
    class Stalling(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            start = {"type": "message_start", "message": {**anthropic_message(), "content": []}}
            yield f"event: message_start\ndata: {json.dumps(start)}\n\n".encode()
            await asyncio.sleep(5)
            yield b""

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Stalling())

    app = make_app(Upstream(handler), Config(timeouts=Timeouts(idle=0.2)))
    status, _, body = await post(app, "/v1/messages", req(stream=True))
    assert status == 200
    assert body.startswith("event: message_start")
    last = body.strip().split("\n\n")[-1]
    assert last.startswith("event: error")
    assert json.loads(last.split("data: ", 1)[1])["error"]["type"] == "timeout_error"


async def test_connection_refused_is_502_api_error() -> None:
    env = {**ENV, "STACKBILT_ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}
    app = create_app(Config(), gateway_key=KEY, keys=KeyStore(env, KEY, use_keyring=False), env=env)
    status, _, body = await post(app, "/v1/messages", req())
    assert status == 502
    assert "cannot connect" in assert_anthropic_error(body, "api_error")


async def test_upstream_pointing_at_the_gateway_itself_is_refused() -> None:
    env = {**ENV, "STACKBILT_ANTHROPIC_BASE_URL": "http://localhost:8787"}
    upstream = Upstream()
    status, _, body = await post(make_app(upstream, env=env), "/v1/messages", req())
    assert status == 503
    assert "loop" in assert_anthropic_error(body, "api_error")
    assert upstream.requests == []


async def test_count_tokens_passes_through_to_anthropic() -> None:
    upstream = Upstream(lambda r: httpx.Response(200, json={"input_tokens": 4242}))
    body = {"model": "claude-opus-5-5", "messages": [{"role": "user", "content": "hi"}]}
    status, headers, out = await post(make_app(upstream), "/v1/messages/count_tokens?beta=true", body)
    assert status == 200 and out == {"input_tokens": 4242}
    assert upstream.requests[0].url.path == "/v1/messages/count_tokens"
    assert upstream.requests[0].url.query == b"beta=true"
    assert "x-stackbilt-estimate" not in headers


async def test_count_tokens_estimates_locally_without_an_anthropic_upstream() -> None:
    upstream = Upstream()
    text = "x" * 400
    body = {"model": "groq/llama-3.3-70b-versatile", "messages": [{"role": "user", "content": text}]}
    status, headers, out = await post(make_app(upstream), "/v1/messages/count_tokens", body)
    assert status == 200
    assert headers["x-stackbilt-estimate"] == "chars/4"
    assert 100 <= out["input_tokens"] <= 120
    assert upstream.requests == []


async def test_count_tokens_validates_its_body() -> None:
    status, _, body = await post(make_app(Upstream()), "/v1/messages/count_tokens", {"messages": []})
    assert status == 400
    assert "model" in assert_anthropic_error(body, "invalid_request_error")


async def test_models_list_has_anthropic_shape_and_pagination() -> None:
    app = make_app(Upstream(), Config(model_map={"fast-chat": "groq/llama-3.1-8b-instant"}))
    async with app.test_app() as test_app:
        client = test_app.test_client()
        full = await (await client.get("/v1/models?limit=1000", headers=AUTH)).get_json()
        page = await (await client.get("/v1/models?limit=2", headers=AUTH)).get_json()
        one = await client.get("/v1/models/claude-opus-5-5", headers=AUTH)
        bad = await client.get("/v1/models?limit=0", headers=AUTH)
    ids = [m["id"] for m in full["data"]]
    assert "claude-opus-5-5" in ids and "fast-chat" in ids
    assert all(m["type"] == "model" and m["created_at"].endswith("Z") for m in full["data"])
    assert full["has_more"] is False
    assert len(page["data"]) == 2 and page["has_more"] is True and page["first_id"] == ids[0]
    assert one.status_code == 200 and (await one.get_json())["id"] == "claude-opus-5-5"
    assert bad.status_code == 400


async def test_non_streaming_translation_to_chat() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": "llama",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "bonjour"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
            },
        )

    upstream = Upstream(handler)
    status, _, body = await post(make_app(upstream), "/v1/messages", req(model="groq/llama-3.1-8b-instant"))
    assert status == 200
    assert body["content"] == [{"type": "text", "text": "bonjour"}]
    assert body["model"] == "groq/llama-3.1-8b-instant"
    assert body["usage"]["input_tokens"] == 10 and body["usage"]["output_tokens"] == 2
    sent = json.loads(upstream.requests[0].content)
    assert sent["model"] == "llama-3.1-8b-instant" and sent["max_tokens"] == 100
    assert upstream.requests[0].url.path == "/openai/v1/chat/completions"
