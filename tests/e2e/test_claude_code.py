"""The real Claude Code CLI (pinned, from npm) → the gateway → a fake upstream on loopback.

Every scenario runs twice: pass-through to an Anthropic upstream (``claude-opus-5-5``) and
translated to a Chat Completions upstream (``groq/llama-3.3-70b-versatile``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.clients import run_claude
from tests.e2e.conftest import upstream_env
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

ROUTES = {
    "passthrough": ("claude-opus-5-5", "/v1/messages"),
    "translated": ("groq/llama-3.3-70b-versatile", "/chat/completions"),
}


@pytest.fixture(params=sorted(ROUTES))
def route(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    model, path = ROUTES[request.param]
    return request.param, model, path


def claude(gateway: GatewayThread, tmp_path: Path, prompt: str, model: str, **kw: Any) -> Any:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = {"ANTHROPIC_API_KEY": GATEWAY_KEY, **kw.pop("env", {})}
    return run_claude(
        prompt, base_url=gateway.url, home=tmp_path / "home", cwd=work, model=model, env=env, **kw
    )


def model_calls(upstream: FakeUpstream, path: str) -> list[Any]:
    return upstream.calls(path)


def test_text_round_trip(
    gateway: GatewayThread, upstream: FakeUpstream, tmp_path: Path, route: tuple[str, str, str]
) -> None:
    _, model, path = route
    run = claude(gateway, tmp_path, "say hello please", model)
    assert run.returncode == 0, run.stdout + run.stderr
    result = run.json()
    assert result["is_error"] is False
    assert result["result"].startswith("FAKE_REPLY")
    assert len(model_calls(upstream, path)) >= 1


def test_streamed_text_arrives_as_deltas(
    gateway: GatewayThread, upstream: FakeUpstream, tmp_path: Path, route: tuple[str, str, str]
) -> None:
    _, model, _ = route
    run = claude(gateway, tmp_path, "stream me something", model, output="stream-json")
    assert run.returncode == 0, run.stdout + run.stderr
    events = run.stream_events()
    deltas = [
        e["event"]["delta"]["text"]
        for e in events
        if e.get("type") == "stream_event"
        and e["event"].get("type") == "content_block_delta"
        and e["event"]["delta"].get("type") == "text_delta"
    ]
    assert len(deltas) >= 2, "text arrived in several streamed pieces"
    assert "".join(deltas).startswith("FAKE_REPLY")
    assert events[-1]["type"] == "result" and events[-1]["is_error"] is False


def test_bash_tool_loop(
    gateway: GatewayThread, upstream: FakeUpstream, tmp_path: Path, route: tuple[str, str, str]
) -> None:
    _, model, path = route
    run = claude(
        gateway,
        tmp_path,
        "RUN_BASH: echo sample_TOOL_MARKER_$((6*7))",
        model,
        args=["--allowedTools", "Bash"],
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.json()["result"] == "TOOL_RESULT_SEEN: sample_TOOL_MARKER_42"
    assert len(model_calls(upstream, path)) >= 2


def test_read_tool_loop(
    gateway: GatewayThread, upstream: FakeUpstream, tmp_path: Path, route: tuple[str, str, str]
) -> None:
    _, model, _ = route
    target = tmp_path / "work" / "notes.txt"
    target.parent.mkdir(exist_ok=True)
    target.write_text("READ_MARKER_31337\n")
    run = claude(gateway, tmp_path, f"READ_FILE: {target}", model, args=["--allowedTools", "Read"])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "READ_MARKER_31337" in run.json()["result"]


def test_thinking_blocks_round_trip(
    gateway: GatewayThread, upstream: FakeUpstream, tmp_path: Path, route: tuple[str, str, str]
) -> None:
    name, model, path = route
    run = claude(
        gateway,
        tmp_path,
        "THINK then RUN_BASH: echo thought",
        model,
        args=["--allowedTools", "Bash"],
        output="stream-json",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    events = run.stream_events()
    assert events[-1]["result"] == "TOOL_RESULT_SEEN: thought"
    received = [
        block
        for e in events
        if e.get("type") == "assistant"
        for block in e["message"]["content"]
        if block["type"] == "thinking"
    ]
    assert received, "Claude Code received a thinking block"
    calls = model_calls(upstream, path)
    second = calls[-1].body
    if name == "passthrough":
        assert received[0]["signature"].startswith("fake-sig-")
        assistant = [m for m in second["messages"] if m["role"] == "assistant"][-1]
        thinking = [b for b in assistant["content"] if b["type"] == "thinking"]
        assert thinking == [
            {
                "type": "thinking",
                "thinking": "I should use a tool for this.",
                "signature": received[0]["signature"],
            }
        ]
    else:
        # The gateway signed the upstream's reasoning; Claude Code echoes it back, and it must
        # not leak into the Chat request (nor reach Anthropic later).
        assert received[0]["signature"].startswith("gw:")
        assert received[0]["thinking"] == "Thinking about the tool."
        assert "gw:" not in calls[-1].raw.decode()
        assert any(m.get("role") == "tool" for m in second["messages"])


def test_rate_limit_then_success(
    gateway: GatewayThread, upstream: FakeUpstream, tmp_path: Path, route: tuple[str, str, str]
) -> None:
    _, model, path = route
    upstream.fail_next(429, headers={"retry-after": "1"})
    run = claude(gateway, tmp_path, "hello after a rate limit", model)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.json()["result"].startswith("FAKE_REPLY")
    assert len(model_calls(upstream, path)) >= 2


def test_persistent_server_error_is_clean_api_error(
    gateway: GatewayThread, upstream: FakeUpstream, tmp_path: Path, route: tuple[str, str, str]
) -> None:
    _, model, path = route
    upstream.fail_next(500, times=50, headers={"retry-after": "0"})
    run = claude(gateway, tmp_path, "this will fail", model, env={"CLAUDE_CODE_MAX_RETRIES": "2"})
    assert run.returncode == 1
    text = run.stdout + run.stderr
    assert "API Error" in text and "500" in text, text[-2000:]
    assert 2 <= len(model_calls(upstream, path)) <= 10


def test_subscription_login_is_forwarded_unchanged(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    """No Anthropic key configured: Claude Code's own credential goes upstream as it was sent,
    and the client authenticates to the gateway with the x-stackbilt-gateway-key header."""
    fake_upstream.reset()
    env = {k: v for k, v in upstream_env(fake_upstream).items() if k != "ANTHROPIC_API_KEY"}
    gw = GatewayThread(env=env).start()
    try:
        client_env = {
            "ANTHROPIC_AUTH_TOKEN": "sk-ant-oat01-subscription-login",
            "ANTHROPIC_CUSTOM_HEADERS": f"x-stackbilt-gateway-key: {GATEWAY_KEY}",
        }
        work = tmp_path / "work"
        work.mkdir()
        run = run_claude(
            "hello subscriber",
            base_url=gw.url,
            home=tmp_path / "home",
            cwd=work,
            model="claude-opus-5-5",
            env=client_env,
        )
    finally:
        gw.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.json()["result"].startswith("FAKE_REPLY")
    sent = fake_upstream.calls("/v1/messages")[-1].headers
    assert sent["Authorization"] == "Bearer sk-ant-oat01-subscription-login"
    assert "x-api-key" not in {k.lower() for k in sent}
    assert GATEWAY_KEY not in str(sent)
