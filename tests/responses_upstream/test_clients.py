"""Anthropic and Chat Completions clients translated onto the OpenAI Responses upstream.

The real Claude Code (text, a Bash tool loop, thinking whose encrypted reasoning comes back on the
next turn), an Anthropic SDK stream and raw HTTP, and a Chat Completions request through the
translating executor, all against the fake upstream, whose request log shows ``/v1/responses``
and the model.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from stackbilt_gateway.daemon.core.config import Timeouts
from stackbilt_gateway.daemon.core.context import RequestRecord
from stackbilt_gateway.daemon.simulator.markers import ENCRYPTED_PREFIX
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from stackbilt_gateway.daemon.upstream.client import UpstreamClient
from stackbilt_gateway.daemon.upstream.targets import Providers
from stackbilt_gateway.daemon.wires.chat.request import parse_chat_request
from stackbilt_gateway.daemon.wires.registry import WIRES
from tests.clients import run_claude
from tests.e2e.conftest import upstream_env
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread
from tests.responses_upstream.conftest import MODEL

pytestmark = pytest.mark.e2e
PINNED = f"openai/{MODEL}"
AUTH = {"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}


def claude(gateway: GatewayThread, tmp_path: Path, prompt: str, **kw: Any) -> Any:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = {"ANTHROPIC_API_KEY": GATEWAY_KEY, "ANTHROPIC_SMALL_FAST_MODEL": PINNED}
    return run_claude(
        prompt, base_url=gateway.url, home=tmp_path / "home", cwd=work, model=PINNED, env=env, **kw
    )


def responses_calls(upstream: FakeUpstream) -> list[Any]:
    calls = upstream.calls("/responses")
    assert calls, "no /v1/responses call"
    assert not upstream.calls("/chat/completions") and not upstream.calls("/messages")
    for call in calls:
        assert call.path == "/v1/responses" and call.body["model"] == MODEL
        assert call.body["store"] is False and call.body["include"] == ["reasoning.encrypted_content"]
    return calls


def test_claude_code_text(upstream: FakeUpstream, gateway: GatewayThread, tmp_path: Path) -> None:
    run = claude(gateway, tmp_path, "say hello to responses")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.json()["result"].startswith("FAKE_REPLY")
    calls = responses_calls(upstream)
    assert any("say hello to responses" in json.dumps(c.body["input"]) for c in calls)


def test_claude_code_bash_tool_loop(upstream: FakeUpstream, gateway: GatewayThread, tmp_path: Path) -> None:
    run = claude(
        gateway, tmp_path, "RUN_BASH: echo resp_TOOL_MARKER_$((6*7))", args=["--allowedTools", "Bash"]
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.json()["result"] == "TOOL_RESULT_SEEN: resp_TOOL_MARKER_42"
    calls = responses_calls(upstream)
    last = calls[-1].body["input"]
    call = next(i for i in last if i.get("type") == "function_call")
    output = next(i for i in last if i.get("type") == "function_call_output")
    assert call["name"] == "Bash" and output["call_id"] == call["call_id"]
    assert "resp_TOOL_MARKER_42" in json.dumps(output["output"])
    bash = next(t for t in calls[-1].body["tools"] if t["name"] == "Bash")
    assert bash["type"] == "function" and bash["strict"] is False


def test_claude_code_thinking_replays_the_encrypted_reasoning(
    upstream: FakeUpstream, gateway: GatewayThread, tmp_path: Path
) -> None:
    run = claude(
        gateway,
        tmp_path,
        "THINK then RUN_BASH: echo thought",
        args=["--allowedTools", "Bash", "--settings", '{"alwaysThinkingEnabled": true}'],
        output="stream-json",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    events = run.stream_events()
    assert events[-1]["result"] == "TOOL_RESULT_SEEN: thought"
    thinking = [
        block
        for e in events
        if e.get("type") == "assistant"
        for block in e["message"]["content"]
        if block["type"] == "thinking"
    ]
    assert thinking and all(b["signature"].startswith("gw:oai1:") for b in thinking)
    assert any(b["thinking"] == "Thinking about the tool." for b in thinking)
    calls = responses_calls(upstream)
    thinking_calls = [c for c in calls if "THINK then" in json.dumps(c.body["input"])]
    assert thinking_calls[0].body["reasoning"]["summary"] == "auto"
    # The tool loop's next request carries the reasoning item back, encrypted content intact.
    replayed = [
        item for c in thinking_calls[1:] for item in c.body["input"] if item.get("type") == "reasoning"
    ]
    assert replayed and all(i["encrypted_content"].startswith(ENCRYPTED_PREFIX) for i in replayed)
    assert all(i["id"].startswith("rs_") for i in replayed)
    kinds = [i.get("type") for i in thinking_calls[-1].body["input"]]
    assert kinds.index("reasoning") < kinds.index("function_call") < kinds.index("function_call_output")


def test_anthropic_sdk_stream(upstream: FakeUpstream, gateway: GatewayThread) -> None:
    with anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0, timeout=20) as sdk:
        with sdk.messages.stream(
            model=PINNED, max_tokens=200, messages=[{"role": "user", "content": "stream three words"}]
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
    assert text == "FAKE_REPLY 3 words. Done."
    assert final.stop_reason == "end_turn"
    # The fake's Responses usage: 900 input of which 600 cached, 30 output.
    assert (final.usage.input_tokens, final.usage.cache_read_input_tokens, final.usage.output_tokens) == (
        300,
        600,
        30,
    )
    (call,) = responses_calls(upstream)
    assert call.body["stream"] is True and call.body["max_output_tokens"] == 200


def test_anthropic_http_tool_call_not_streamed(upstream: FakeUpstream, gateway: GatewayThread) -> None:
    body = {
        "model": PINNED,
        "max_tokens": 100,
        "tools": [
            {"name": "Read", "description": "read", "input_schema": {"type": "object", "properties": {}}}
        ],
        "messages": [{"role": "user", "content": "READ_FILE: notes.txt"}],
    }
    r = httpx.post(f"{gateway.url}/v1/messages", json=body, headers=AUTH, timeout=20)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["stop_reason"] == "tool_use" and out["model"] == PINNED
    (tool,) = [b for b in out["content"] if b["type"] == "tool_use"]
    assert tool["name"] == "Read" and tool["input"] == {"file_path": "notes.txt"}
    (call,) = responses_calls(upstream)
    assert "stream" not in call.body


def test_an_upstream_error_before_the_stream_is_the_clients_error(
    upstream: FakeUpstream, gateway: GatewayThread
) -> None:
    upstream.fail_next(429, path="/responses", headers={"retry-after": "3"}, message="slow down")
    body = {
        "model": PINNED,
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    r = httpx.post(f"{gateway.url}/v1/messages", json=body, headers=AUTH, timeout=20)
    assert r.status_code == 429, r.text
    assert r.json()["error"]["type"] == "rate_limit_error" and "slow down" in r.json()["error"]["message"]


def test_a_stream_dropped_mid_way_ends_with_the_clients_error_event(
    upstream: FakeUpstream, gateway: GatewayThread
) -> None:
    upstream.fail_next(500, path="/responses", mode="midstream")
    body = {
        "model": PINNED,
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    with httpx.stream("POST", f"{gateway.url}/v1/messages", json=body, headers=AUTH, timeout=20) as r:
        assert r.status_code == 200
        text = r.read().decode()
    assert "event: message_start" in text and "event: error" in text and "message_stop" not in text


def _chat_through_executor(fake: FakeUpstream, body: dict[str, Any]) -> tuple[RequestRecord, bytes]:
    """A Chat Completions request served by the translating executor from the Responses upstream."""
    from stackbilt_gateway.daemon.core.config import Config
    from stackbilt_gateway.daemon.execute.translated import translated

    request = parse_chat_request(body)
    target = Providers.resolve_all(Config(), upstream_env(fake)).target("openai", MODEL)
    record = RequestRecord(request_id="r1", protocol="chat", provider="openai", stream=request.stream)

    async def run() -> bytes:
        client = UpstreamClient(Timeouts())
        try:
            outcome = await translated(
                client,
                target=target,
                request=request,
                provider_key="sk-openai-fake-upstream-key",
                renderer=WIRES["chat"].renderer,
                record=record,
            )
            if outcome.stream is None:
                return bytes(outcome.body or b"")
            return b"".join([chunk async for chunk in outcome.stream])
        finally:
            await client.aclose()

    return record, asyncio.run(run())


@pytest.mark.parametrize("stream", [False, True])
def test_a_chat_completions_client_translated_onto_responses(upstream: FakeUpstream, stream: bool) -> None:
    body = {
        "model": MODEL,
        "stream": stream,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "RUN_BASH: ls"}],
        "tools": [{"type": "function", "function": {"name": "Bash", "parameters": {"type": "object"}}}],
    }
    record, raw = _chat_through_executor(upstream, body)
    (call,) = responses_calls(upstream)
    assert call.body["instructions"] == "Be brief." and call.body["tools"][0]["name"] == "Bash"
    assert record.usage.cache_read_tokens == 600 and record.usage.reasoning_tokens == 10
    if stream:
        chunks = [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: {")]
        calls = [
            tc for c in chunks for tc in (c["choices"][0]["delta"].get("tool_calls") or []) if c["choices"]
        ]
        assert calls[0]["function"]["name"] == "Bash"
        assert any(c["choices"] and c["choices"][0].get("finish_reason") == "tool_calls" for c in chunks)
    else:
        message = json.loads(raw)["choices"][0]
        assert message["finish_reason"] == "tool_calls"
        assert json.loads(message["message"]["tool_calls"][0]["function"]["arguments"]) == {
            "command": "ls",
            "description": "Run the command",
        }
