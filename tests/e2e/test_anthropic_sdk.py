"""The official Anthropic Python SDK as a second real client, streaming helpers included."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

MODELS = ["claude-opus-5-5", "groq/llama-3.3-70b-versatile"]


@pytest.fixture
def sdk(gateway: GatewayThread) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0, timeout=20) as c:
        yield c


@pytest.mark.parametrize("model", MODELS)
def test_create_non_streaming(sdk: anthropic.Anthropic, upstream: FakeUpstream, model: str) -> None:
    msg = sdk.messages.create(
        model=model, max_tokens=200, messages=[{"role": "user", "content": "hello sdk"}]
    )
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "FAKE_REPLY 2 words. Done."
    assert msg.stop_reason == "end_turn"
    assert msg.usage.output_tokens > 0


@pytest.mark.parametrize("model", MODELS)
def test_stream_helper_text_and_final_message(
    sdk: anthropic.Anthropic, upstream: FakeUpstream, model: str
) -> None:
    with sdk.messages.stream(
        model=model, max_tokens=200, messages=[{"role": "user", "content": "stream three words"}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) >= 2
    assert "".join(pieces) == "FAKE_REPLY 3 words. Done."
    assert final.content[-1].type == "text"
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("model", MODELS)
def test_stream_helper_tool_use(sdk: anthropic.Anthropic, upstream: FakeUpstream, model: str) -> None:
    tools = [
        {
            "name": "Bash",
            "description": "run",
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
        }
    ]
    with sdk.messages.stream(
        model=model,
        max_tokens=200,
        tools=tools,
        messages=[{"role": "user", "content": "RUN_BASH: ls -la"}],  # type: ignore[arg-type]
    ) as stream:
        final = stream.get_final_message()
    tool_uses = [b for b in final.content if b.type == "tool_use"]
    assert final.stop_reason == "tool_use"
    assert len(tool_uses) == 1 and tool_uses[0].name == "Bash"
    assert tool_uses[0].input == {"command": "ls -la", "description": "Run the command"}


@pytest.mark.parametrize("model", MODELS)
def test_errors_surface_as_sdk_exceptions(
    sdk: anthropic.Anthropic, upstream: FakeUpstream, model: str
) -> None:
    upstream.fail_next(429, headers={"retry-after": "2"})
    with pytest.raises(anthropic.RateLimitError) as rate:
        sdk.messages.create(model=model, max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert rate.value.response.headers["retry-after"] == "2"
    upstream.fail_next(529)
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        sdk.messages.create(model=model, max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert overloaded.value.status_code == 529


def test_sdk_retries_through_a_429(gateway: GatewayThread, upstream: FakeUpstream) -> None:
    upstream.fail_next(429, headers={"retry-after": "0"})
    with anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=2, timeout=20) as c:
        msg = c.messages.create(
            model="claude-opus-5-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert msg.content[0].text.startswith("FAKE_REPLY")
    assert len(upstream.calls("/v1/messages")) == 2


def test_count_tokens_via_sdk(sdk: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    result = sdk.messages.count_tokens(
        model="claude-opus-5-5", messages=[{"role": "user", "content": "count me"}]
    )
    assert result.input_tokens > 0
    assert upstream.calls("/count_tokens")
