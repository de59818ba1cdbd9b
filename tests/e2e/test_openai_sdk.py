"""The official OpenAI Python SDK as a real client of /v1/responses and /v1/chat/completions,
streaming and not, tool calls included, against pass-through and translated routes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

# pass-through to OpenAI, translated to Anthropic, translated/pass-through to a Chat provider
RESPONSES_MODELS = ["gpt-5.5", "claude-opus-5-5", "groq/llama-3.3-70b-versatile"]
CHAT_MODELS = ["groq/llama-3.3-70b-versatile", "gpt-5.5", "claude-opus-5-5"]
SHELL_TOOL = {
    "type": "function",
    "name": "exec_command",
    "description": "run a shell command",
    "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
}
BASH_TOOL = {
    "type": "function",
    "function": {
        "name": "Bash",
        "description": "run a command",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
    },
}


@pytest.fixture
def sdk(gateway: GatewayThread) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=f"{gateway.url}/v1", api_key=GATEWAY_KEY, max_retries=0, timeout=20
    ) as client:
        yield client


@pytest.mark.parametrize("model", RESPONSES_MODELS)
def test_responses_create(sdk: openai.OpenAI, upstream: FakeUpstream, model: str) -> None:
    resp = sdk.responses.create(model=model, input="hello from the sdk")
    assert resp.status == "completed"
    assert resp.output_text.startswith("FAKE_REPLY")
    assert resp.model == model
    assert resp.usage is not None and resp.usage.output_tokens > 0


@pytest.mark.parametrize("model", RESPONSES_MODELS)
def test_responses_stream_with_tool_call(sdk: openai.OpenAI, upstream: FakeUpstream, model: str) -> None:
    kinds: list[str] = []
    with sdk.responses.stream(model=model, input="RUN_SHELL: ls -la", tools=[SHELL_TOOL]) as stream:  # type: ignore[list-item]
        for event in stream:
            kinds.append(event.type)
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.function_call_arguments.delta" in kinds
    calls = [item for item in final.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "exec_command"
    assert json.loads(calls[0].arguments) == {"cmd": "ls -la"}


@pytest.mark.parametrize("model", RESPONSES_MODELS)
def test_responses_stream_text(sdk: openai.OpenAI, upstream: FakeUpstream, model: str) -> None:
    deltas: list[str] = []
    with sdk.responses.stream(model=model, input="say three words") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert len(deltas) >= 2 and "".join(deltas) == final.output_text
    assert final.output_text.startswith("FAKE_REPLY")


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_chat_create_with_tool_call(sdk: openai.OpenAI, upstream: FakeUpstream, model: str) -> None:
    out = sdk.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "RUN_BASH: echo hi"},
        ],
        tools=[BASH_TOOL],  # type: ignore[list-item]
    )
    choice = out.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.function.name == "Bash"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments)["command"] == "echo hi"  # type: ignore[union-attr]
    assert out.usage is not None and out.usage.prompt_tokens > 0


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_chat_stream_with_usage(sdk: openai.OpenAI, upstream: FakeUpstream, model: str) -> None:
    stream = sdk.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "stream four short words"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage, finish = [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                text.append(choice.delta.content)
            finish = choice.finish_reason or finish
    assert "".join(text).startswith("FAKE_REPLY")
    assert len(text) >= 2 and finish == "stop"
    assert usage is not None and usage.completion_tokens > 0


@pytest.mark.parametrize("model", ["gpt-5.5", "claude-opus-5-5"])
def test_rate_limit_reaches_the_sdk_with_retry_after(
    sdk: openai.OpenAI, upstream: FakeUpstream, model: str
) -> None:
    upstream.fail_next(429, headers={"retry-after": "4"})
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.responses.create(model=model, input="x")
    assert caught.value.response.headers["retry-after"] == "4"


def test_unknown_model_is_a_clean_404(sdk: openai.OpenAI, upstream: FakeUpstream) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert "no-such-model" in str(caught.value)
    assert upstream.requests == []
