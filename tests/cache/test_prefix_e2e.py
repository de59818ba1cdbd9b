"""Prompt-cache hints on the wire: what the fake upstream receives from the real gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.cache.conftest import AUTH, start_gateway
from tests.cache.test_prefix import BILLING, capture, strip
from tests.conftest import DATA_DIR
from tests.fakes.gateway import GatewayThread

pytestmark = pytest.mark.e2e
CC_HEADERS = {**AUTH, "user-agent": "claude-cli/2.1.330 (external, sdk-cli)"}


@pytest.fixture(scope="module")
def gw(fake: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    gateway = start_gateway(fake, Config(), tmp_path_factory.mktemp("gw-home"))
    yield gateway
    gateway.stop()


def post(gw: GatewayThread, path: str, raw: bytes, **headers: str) -> httpx.Response:
    hdrs = {**CC_HEADERS, "content-type": "application/json", **headers}
    return httpx.post(f"{gw.url}{path}", content=raw, headers=hdrs, timeout=20)


def codex(name: str) -> dict[str, Any]:
    path = DATA_DIR / "clients" / "codex" / f"{name}.json"
    body: dict[str, Any] = json.loads(path.read_text("utf-8"))["request"]["body"]
    return body


def test_client_markers_go_upstream_byte_for_byte(gw: GatewayThread, upstream: FakeUpstream) -> None:
    raw = json.dumps({**capture("messages_tool_turn1"), "stream": False}, indent=1).encode()
    r = post(gw, "/v1/messages?beta=true", raw, **{"x-claude-code-session-id": "s1"})
    assert r.status_code == 200, r.text
    plain = json.dumps(
        {"model": "claude-opus-5-5", "max_tokens": 9, "messages": [{"role": "user", "content": "x"}]}
    )
    assert post(gw, "/v1/messages", plain.encode()).status_code == 200
    first, second = upstream.calls("/v1/messages")
    assert first.raw == raw and second.raw == plain.encode()  # nothing stable to mark: untouched


def test_a_body_without_markers_gets_the_golden_breakpoints(
    gw: GatewayThread, upstream: FakeUpstream
) -> None:
    body = {**strip(capture("messages_tool_result_turn2")), "stream": False}
    r = post(gw, "/v1/messages?beta=true", json.dumps(body).encode())
    assert r.status_code == 200, r.text
    sent = upstream.calls("/v1/messages")[0].body
    assert sent["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert sent["system"][2]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in sent and json.dumps(sent).count("cache_control") == 2
    assert r.json()["usage"]["cache_read_input_tokens"] == 400  # what telemetry records


def test_translated_requests_to_anthropic_get_breakpoints_not_a_top_level_marker(
    gw: GatewayThread, upstream: FakeUpstream
) -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "system", "content": "be terse"}, {"role": "user", "content": "hello"}],
        "tools": [{"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}],
    }
    r = post(gw, "/v1/chat/completions", json.dumps(body).encode())
    assert r.status_code == 200, r.text
    sent = upstream.calls("/v1/messages")[0].body
    assert "cache_control" not in sent
    assert sent["tools"][0]["cache_control"] == {"type": "ephemeral"}
    assert sent["system"] == [{"type": "text", "text": "be terse", "cache_control": {"type": "ephemeral"}}]
    assert sent["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}


def test_responses_pass_through_gets_a_session_prompt_cache_key(
    gw: GatewayThread, upstream: FakeUpstream
) -> None:
    own = json.dumps({**codex("responses_text_gpt-5.5"), "stream": False}).encode()
    assert post(gw, "/v1/responses", own, **{"session-id": "codex-1"}).status_code == 200
    assert upstream.calls("/responses")[0].raw == own  # the client's own key: untouched
    body = {k: v for k, v in json.loads(own).items() if k != "prompt_cache_key"}
    assert (
        post(gw, "/v1/responses", json.dumps(body).encode(), **{"session-id": "codex-1"}).status_code == 200
    )
    key = upstream.calls("/responses")[1].body["prompt_cache_key"]
    assert key.startswith("sgw-") and "codex-1" not in key
    assert (
        post(gw, "/v1/responses", json.dumps(body).encode(), **{"session-id": "codex-1"}).status_code == 200
    )
    assert upstream.calls("/responses")[2].body["prompt_cache_key"] == key


def test_claude_code_to_openai_key_excludes_the_billing_header(
    gw: GatewayThread, upstream: FakeUpstream
) -> None:
    def turn(cch: str) -> bytes:
        body = capture("messages_stream_text_turn")
        body["system"][0]["text"] = BILLING.replace("4f2e1", cch)
        return json.dumps({**body, "model": "openai/gpt-5.4-mini", "stream": False}).encode()

    for cch in ("11111", "22222"):
        r = post(gw, "/v1/messages", turn(cch))
        assert r.status_code == 200, r.text
    first, second = upstream.calls("/responses")  # OpenAI's translation wire is Responses
    assert first.body["prompt_cache_key"] == second.body["prompt_cache_key"]
    assert "11111" in first.raw.decode()  # the header itself is still sent; only the key ignores it
    assert post(gw, "/v1/messages", turn("3"), **{"x-claude-code-session-id": "cc-9"}).status_code == 200
    third = upstream.calls("/responses")[2].body["prompt_cache_key"]
    assert third != first.body["prompt_cache_key"] and third.startswith("sgw-")


def test_no_prompt_cache_key_for_providers_that_do_not_take_it(
    gw: GatewayThread, upstream: FakeUpstream
) -> None:
    body = {"model": "groq/llama-3.3-70b-versatile", "messages": [{"role": "user", "content": "hi"}]}
    r = post(gw, "/v1/chat/completions", json.dumps(body).encode(), **{"session-id": "g-1"})
    assert r.status_code == 200, r.text
    assert "prompt_cache_key" not in upstream.calls("/chat/completions")[0].body
