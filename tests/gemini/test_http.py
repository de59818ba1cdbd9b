"""Requests from the three client protocols translated onto the Gemini wire, over real HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

from stackbilt_gateway.daemon.simulator.gemini import FakeGemini
from tests.fakes.gateway import GatewayThread
from tests.gemini.conftest import AUTH, BEARER, LOCATION, MODEL, PROJECT


def _messages(gw: GatewayThread, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{gw.url}/v1/messages", json=body, headers=AUTH, timeout=30)


def test_anthropic_text_onto_gemini_api(gemini: FakeGemini, gateway: GatewayThread) -> None:
    resp = _messages(
        gateway,
        {
            "model": f"gemini/{MODEL}",
            "max_tokens": 100,
            "system": "be brief",
            "messages": [{"role": "user", "content": "hello there gemini"}],
        },
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["content"][0]["text"].startswith("FAKE_REPLY")
    # promptTokenCount 700 includes 200 cached: 500 fresh input, 200 cache reads.
    assert body["usage"]["input_tokens"] == 500
    assert body["usage"]["cache_read_input_tokens"] == 200
    assert body["usage"]["output_tokens"] == 25
    (call,) = gemini.requests
    assert call.path == f"/v1beta/models/{MODEL}:generateContent" and call.query == ""
    assert call.headers["x-goog-api-key"] == gemini.api_key
    assert "authorization" not in call.headers
    assert call.body["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert call.body["contents"] == [{"role": "user", "parts": [{"text": "hello there gemini"}]}]
    assert call.body["generationConfig"]["maxOutputTokens"] == 100


def test_anthropic_stream_tool_call_and_signature_round_trip(
    gemini: FakeGemini, gateway: GatewayThread
) -> None:
    tool = {
        "name": "Bash",
        "description": "run a command",
        "input_schema": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"command": {"type": "string"}, "timeout": {"type": ["number", "null"]}},
            "required": ["command"],
            "additionalProperties": False,
        },
    }
    first = {
        "model": f"gemini/{MODEL}",
        "max_tokens": 200,
        "stream": True,
        "tools": [tool],
        "messages": [{"role": "user", "content": "RUN_BASH: echo hi"}],
    }
    with httpx.stream("POST", f"{gateway.url}/v1/messages", json=first, headers=AUTH, timeout=30) as resp:
        assert resp.status_code == 200
        lines = [line for line in resp.iter_lines() if line.startswith("data: ")]
    events = [json.loads(line[6:]) for line in lines]
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    kinds = [b["type"] for b in starts]
    assert kinds == ["thinking", "tool_use"]
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta"]
    signature = next(d["signature"] for d in deltas if d["type"] == "signature_delta")
    assert signature.startswith("gw:gem1:fake-gemini-sig-")
    tool_use = starts[1]
    stop = next(e for e in events if e["type"] == "message_delta")
    assert stop["delta"]["stop_reason"] == "tool_use"
    call = gemini.requests[0]
    assert call.path.endswith(f"/models/{MODEL}:streamGenerateContent") and call.query == "alt=sse"
    params = call.body["tools"][0]["functionDeclarations"][0]["parameters"]
    assert "additionalProperties" not in params and "$schema" not in params
    assert params["properties"]["timeout"] == {"type": "number", "nullable": True}
    args = json.loads("".join(d["partial_json"] for d in deltas if d["type"] == "input_json_delta"))
    second = {
        **first,
        "stream": False,
        "messages": [
            first["messages"][0],
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "", "signature": signature},
                    {"type": "tool_use", "id": tool_use["id"], "name": "Bash", "input": args},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool_use["id"], "content": "hi"}],
            },
        ],
    }
    resp = _messages(gateway, second)
    assert resp.status_code == 200, resp.text
    assert resp.json()["content"][0]["text"].startswith("TOOL_RESULT_SEEN: hi")
    contents = gemini.requests[1].body["contents"]
    model_turn = contents[1]
    assert model_turn["role"] == "model"
    assert model_turn["parts"][0]["functionCall"] == {"id": tool_use["id"], "name": "Bash", "args": args}
    assert model_turn["parts"][0]["thoughtSignature"] == signature.removeprefix("gw:gem1:")
    response = contents[2]["parts"][0]["functionResponse"]
    assert response == {"id": tool_use["id"], "name": "Bash", "response": {"result": "hi"}}
    assert gemini.replayed_signatures == [signature.removeprefix("gw:gem1:")]


def test_chat_completions_onto_gemini(gemini: FakeGemini, gateway: GatewayThread) -> None:
    resp = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": f"gemini/{MODEL}", "messages": [{"role": "user", "content": "hi from chat"}]},
        headers=BEARER,
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["choices"][0]["message"]["content"].startswith("FAKE_REPLY")
    assert body["usage"]["prompt_tokens"] == 700
    assert body["usage"]["prompt_tokens_details"]["cached_tokens"] == 200


def test_responses_onto_vertex(gemini: FakeGemini, gateway: GatewayThread) -> None:
    resp = httpx.post(
        f"{gateway.url}/v1/responses",
        json={"model": f"vertex/{MODEL}", "input": "hi from responses"},
        headers=BEARER,
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    text = resp.json()["output"][-1]["content"][0]["text"]
    assert text.startswith("FAKE_REPLY")
    (call,) = gemini.requests
    assert call.path == (
        f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{MODEL}:generateContent"
    )
    assert call.headers["authorization"].startswith("Bearer ya29.fake-")
    assert "x-goog-api-key" not in call.headers


def test_unexpressible_schema_is_a_400_naming_tool_and_field(
    gemini: FakeGemini, gateway: GatewayThread
) -> None:
    tool = {
        "name": "Picker",
        "input_schema": {"type": "object", "properties": {"n": {"not": {"type": "string"}}}},
    }
    resp = _messages(
        gateway,
        {
            "model": f"gemini/{MODEL}",
            "max_tokens": 50,
            "tools": [tool],
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "'Picker'" in error["message"] and "properties.n.not" in error["message"]
    assert gemini.requests == []  # refused before any upstream call


@pytest.mark.parametrize("header", [True, False])
def test_rate_limit_retry_delay_reaches_the_client(
    gemini: FakeGemini, gateway: GatewayThread, header: bool
) -> None:
    detail = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}
    body = {
        "error": {
            "code": 429,
            "message": "Quota exceeded",
            "status": "RESOURCE_EXHAUSTED",
            "details": [detail],
        }
    }
    gemini.fail_next(429, body, {"retry-after": "5"} if header else {})
    resp = _messages(
        gateway,
        {"model": f"gemini/{MODEL}", "max_tokens": 50, "messages": [{"role": "user", "content": "x"}]},
    )
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == ("5" if header else "17")
    assert "Quota exceeded" in resp.json()["error"]["message"]


def test_models_lists_reachable_google_models_with_context_windows(gateway: GatewayThread) -> None:
    resp = httpx.get(f"{gateway.url}/v1/models", params={"limit": 1000}, headers=AUTH, timeout=10)
    assert resp.status_code == 200
    entries = {m["id"]: m for m in resp.json()["data"]}
    assert entries[f"gemini/{MODEL}"]["context_window"] == 1048576
    assert entries[f"vertex/{MODEL}"]["owned_by"] == "vertex"
    assert not any(m.startswith("groq/") for m in entries)  # no Groq key: not reachable
    one = httpx.get(f"{gateway.url}/v1/models/vertex/{MODEL}", headers=AUTH, timeout=10)
    assert one.status_code == 200 and one.json()["context_window"] == 1048576
