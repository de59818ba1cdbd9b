"""The Claude Code CLI bridge (``claude-cli/<model>``) end to end: real SDK clients → the gateway →
the real pinned ``claude`` binary (its prompt on stdin) → the fake Anthropic upstream.

Pins: an OpenAI SDK chat request and a streamed Anthropic SDK request are answered through the
CLI; the CLI runs with the user's login, never the gateway's Anthropic key; a missing binary is a
503 naming it; tools and images are a 400; the CLI's failures (an API error it reports, a non-zero
exit with stderr) are protocol-correct errors; the concurrency limit holds; a client that goes
away kills its CLI run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from stackbilt_gateway.daemon.core.config import Config, ProviderSettings
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.bridge.conftest import (
    LOGIN_TOKEN,
    PROVIDER_KEY,
    cli_children,
    cli_env,
    start_gateway,
    stop_gateway,
)
from tests.e2e.conftest import wait_events
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

# The fake's fixed Anthropic usage (simulator.markers), as the CLI's result line reports it.
IN, CACHE_WRITE, CACHE_READ, OUT = 120, 30, 400, 17


def chat_client(gw: GatewayThread) -> openai.OpenAI:
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=GATEWAY_KEY, max_retries=0, timeout=120)
    OPEN.append(client)
    return client


def messages_client(gw: GatewayThread) -> anthropic.Anthropic:
    client = anthropic.Anthropic(base_url=gw.url, api_key=GATEWAY_KEY, max_retries=0, timeout=120)
    OPEN.append(client)
    return client


OPEN: list[openai.OpenAI | anthropic.Anthropic] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    """Every SDK client a test made is closed after it (no socket left to the garbage collector)."""
    yield
    while OPEN:
        OPEN.pop().close()


def test_openai_sdk_chat_is_answered_by_the_cli(gateway: GatewayThread, upstream: FakeUpstream) -> None:
    resp = chat_client(gateway).chat.completions.create(
        model="claude-cli/sonnet",
        messages=[
            {"role": "system", "content": "You answer in one line."},
            {"role": "user", "content": "say hello please"},
        ],
    )
    assert resp.choices[0].message.content is not None
    assert resp.choices[0].message.content.startswith("FAKE_REPLY")
    assert resp.choices[0].finish_reason == "stop"
    assert resp.model == "claude-cli/sonnet"
    assert resp.usage is not None and resp.usage.completion_tokens == OUT
    assert resp.usage.prompt_tokens == IN + CACHE_WRITE + CACHE_READ
    calls = upstream.calls("/v1/messages")
    assert len(calls) == 1
    call = calls[0]
    # the CLI's own call: the user's login, never the gateway's provider key; the system text
    # through the CLI's system-prompt flag, the prompt from stdin, no tools offered
    assert call.headers.get("authorization") == f"Bearer {LOGIN_TOKEN}"
    assert PROVIDER_KEY not in str(call.headers) and call.headers.get("x-api-key") is None
    assert call.body["model"].startswith("claude-sonnet")
    assert "You answer in one line." in str(call.body["system"])
    assert call.body["messages"][0]["content"] == "say hello please" or "say hello please" in str(
        call.body["messages"][0]["content"]
    )
    assert call.body["tools"] == []
    (event,) = wait_events(gateway, 1)
    assert (event["selected_provider"], event["selected_model"]) == ("claude-cli", "sonnet")
    assert event["http_status"] == 200 and event["output_tokens"] == OUT
    assert event["usage_estimated"] is False  # from the CLI's result line
    assert event["cost_usd"] is None  # the subscription has no per-token price: unpriced


def test_a_conversation_goes_to_the_cli_as_a_transcript(
    gateway: GatewayThread, upstream: FakeUpstream
) -> None:
    resp = chat_client(gateway).chat.completions.create(
        model="claude-cli/haiku",
        messages=[
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": "second question"},
        ],
    )
    assert (resp.choices[0].message.content or "").startswith("FAKE_REPLY")
    sent = str(upstream.calls("/v1/messages")[0].body["messages"][0]["content"])
    for piece in ("<user>\nfirst question\n</user>", "<assistant>\nfirst answer", "second question"):
        assert piece in sent, sent


def test_anthropic_sdk_stream_is_answered_by_the_cli(gateway: GatewayThread, upstream: FakeUpstream) -> None:
    client = messages_client(gateway)
    with client.messages.stream(
        model="claude-cli/sonnet",
        max_tokens=200,
        system="Be brief.",
        messages=[{"role": "user", "content": "SLOW stream me something"}],
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) >= 2, "text arrived in several streamed pieces"
    assert "".join(pieces).startswith("FAKE_REPLY")
    assert final.stop_reason == "end_turn" and final.model == "claude-cli/sonnet"
    assert final.usage.output_tokens == OUT
    assert final.content[0].type == "text" and final.content[0].text == "".join(pieces)
    assert len(upstream.calls("/v1/messages")) == 1
    (event,) = wait_events(gateway, 1)
    assert event["selected_provider"] == "claude-cli" and event["http_status"] == 200 and event["stream"]


def test_chat_stream_through_the_cli(gateway: GatewayThread) -> None:
    chunks = list(
        chat_client(gateway).chat.completions.create(
            model="claude-cli/sonnet",
            messages=[{"role": "user", "content": "hello"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("FAKE_REPLY")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == OUT


def test_tools_are_refused_with_a_400(gateway: GatewayThread, upstream: FakeUpstream) -> None:
    tool = {"type": "function", "function": {"name": "Bash", "parameters": {"type": "object"}}}
    with pytest.raises(openai.BadRequestError) as info:
        chat_client(gateway).chat.completions.create(
            model="claude-cli/sonnet",
            messages=[{"role": "user", "content": "run ls"}],
            tools=[tool],  # type: ignore[list-item]
        )
    assert "does not take tools" in str(info.value) and "claude-cli/sonnet" in str(info.value)
    with pytest.raises(anthropic.BadRequestError) as image:
        messages_client(gateway).messages.create(
            model="claude-cli/sonnet",
            max_tokens=100,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                        }
                    ],
                }
            ],
        )
    assert "text only" in str(image.value) and "image" in str(image.value)
    assert upstream.calls("/v1/messages") == []
    assert cli_children() == []


def test_a_missing_binary_is_a_503_naming_it(upstream: FakeUpstream, tmp_path: Path) -> None:
    named = start_gateway(
        cli_env(upstream, tmp_path / "h1", STACKBILT_CLAUDE_BIN=str(tmp_path / "no-claude"))
    )
    env = cli_env(upstream, tmp_path / "h2", PATH=str(tmp_path))
    del env["STACKBILT_CLAUDE_BIN"]
    on_path = start_gateway(env)
    try:
        with pytest.raises(openai.APIStatusError) as info:
            chat_client(named).chat.completions.create(
                model="claude-cli/sonnet", messages=[{"role": "user", "content": "hi"}]
            )
        assert info.value.status_code == 503
        assert str(tmp_path / "no-claude") in str(info.value) and "STACKBILT_CLAUDE_BIN" in str(info.value)
        resp = httpx.post(
            on_path.url + "/v1/messages",
            headers={"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01"},
            json={
                "model": "claude-cli/sonnet",
                "max_tokens": 10,
                "messages": [{"role": "user", "content": "hi"}],
            },
            timeout=30,
        )
        assert resp.status_code == 503
        body = resp.json()
        assert body["type"] == "error" and "`claude`" in body["error"]["message"]
        assert "PATH" in body["error"]["message"]
    finally:
        stop_gateway(named)
        stop_gateway(on_path)


def test_an_api_error_the_cli_reports_keeps_its_status(
    gateway: GatewayThread, upstream: FakeUpstream
) -> None:
    upstream.fail_next(400, message="prompt is not acceptable", times=5)  # the CLI retries a 400 once
    with pytest.raises(anthropic.BadRequestError) as info:
        messages_client(gateway).messages.create(
            model="claude-cli/sonnet", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        )
    assert "the claude CLI failed" in str(info.value) and "prompt is not acceptable" in str(info.value)
    assert cli_children() == []


def test_a_cli_without_a_login_is_a_clear_401(upstream: FakeUpstream, tmp_path: Path) -> None:
    env = cli_env(upstream, tmp_path / "h")
    del env["ANTHROPIC_AUTH_TOKEN"]  # only the gateway's provider key is left, which the CLI never gets
    gw = start_gateway(env)
    try:
        with pytest.raises(openai.AuthenticationError) as info:
            chat_client(gw).chat.completions.create(
                model="claude-cli/sonnet", messages=[{"role": "user", "content": "hi"}]
            )
        assert "/login" in str(info.value)
        assert upstream.calls("/v1/messages") == []
    finally:
        stop_gateway(gw)


def test_a_non_zero_exit_is_an_error_with_its_stderr(upstream: FakeUpstream, tmp_path: Path) -> None:
    # a real program that rejects the CLI's arguments: exit code 2 and a message on stderr
    gw = start_gateway(cli_env(upstream, tmp_path / "h", STACKBILT_CLAUDE_BIN="ls"))
    try:
        with pytest.raises(openai.APIStatusError) as info:
            chat_client(gw).chat.completions.create(
                model="claude-cli/sonnet", messages=[{"role": "user", "content": "hi"}]
            )
        assert info.value.status_code == 502
        message = str(info.value)
        assert "exited with code 2" in message and "output-format" in message
    finally:
        stop_gateway(gw)


def _run_streams(gw: GatewayThread, n: int, prompt: str) -> tuple[list[str], int]:
    """``n`` concurrent streamed requests; their texts and the most CLI processes seen at once."""
    texts: list[str] = [""] * n
    done = threading.Event()

    def one(i: int) -> None:
        with messages_client(gw).messages.stream(
            model="claude-cli/sonnet", max_tokens=50, messages=[{"role": "user", "content": prompt}]
        ) as stream:
            texts[i] = "".join(stream.text_stream)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    most = 0
    deadline = time.monotonic() + 120
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        most = max(most, len(cli_children()))
        time.sleep(0.05)
    for t in threads:
        t.join(5)
    done.set()
    return texts, most


def test_the_concurrency_limit_holds(upstream: FakeUpstream, tmp_path: Path) -> None:
    limited = Config(providers={"claude-cli": ProviderSettings(concurrency=1)})
    gw = start_gateway(cli_env(upstream, tmp_path / "h1"), limited)
    try:
        texts, most = _run_streams(gw, 2, "SLOW please")
    finally:
        stop_gateway(gw)
    assert all(t.startswith("FAKE_REPLY") for t in texts), texts
    assert most == 1
    # the default (2) lets both run at once: the sampling above does see concurrent runs
    gw = start_gateway(cli_env(upstream, tmp_path / "h2"))
    try:
        texts, most = _run_streams(gw, 2, "SLOW please")
    finally:
        stop_gateway(gw)
    assert all(t.startswith("FAKE_REPLY") for t in texts), texts
    assert most == 2


def test_a_client_that_goes_away_kills_its_cli_run(gateway: GatewayThread, upstream: FakeUpstream) -> None:
    closed = upstream.closed_streams
    with httpx.stream(
        "POST",
        gateway.url + "/v1/messages",
        headers={"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01"},
        json={
            "model": "claude-cli/sonnet",
            "max_tokens": 50,
            "stream": True,
            "messages": [{"role": "user", "content": "CRAWL along"}],
        },
        timeout=60,
    ) as resp:
        assert resp.status_code == 200
        seen = b""
        for chunk in resp.iter_raw():
            seen += chunk
            if b"text_delta" in seen:
                break
        running = cli_children()
        assert len(running) == 1
    # the reply had more deltas to go (1.5 s apart): the run was cut, not finished
    deadline = time.monotonic() + 10
    while running[0].is_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running[0].is_running(), "the CLI outlived its client"
    assert cli_children() == []
    while upstream.closed_streams == closed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.closed_streams > closed
    (event,) = wait_events(gateway, 1)
    assert event["http_status"] == 499 and event["status"] == "client_closed"


def test_providers_live_checks_the_bridge_binary(
    gateway: GatewayThread, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """``/providers?live=1`` (what ``doctor --live`` reads): the bridge is configured when its binary
    is found and live when ``claude --version`` answers; a missing binary says so."""
    got = httpx.get(
        f"{gateway.url}/providers", params={"live": "1"}, headers={"x-api-key": GATEWAY_KEY}, timeout=30
    )
    bridge = got.json()["providers"]["claude-cli"]
    assert bridge["configured"] is True and bridge["probe"]["ok"] is True
    assert "Claude Code" in bridge["probe"]["version"] or bridge["probe"]["version"][:1].isdigit()
    models = httpx.get(f"{gateway.url}/v1/models", headers={"x-api-key": GATEWAY_KEY}, timeout=10).json()
    assert any(m["id"].startswith("claude-cli/") for m in models["data"])
    missing = start_gateway(
        cli_env(upstream, tmp_path / "h2", STACKBILT_CLAUDE_BIN=str(tmp_path / "no-claude"))
    )
    try:
        got = httpx.get(
            f"{missing.url}/providers", params={"live": "1"}, headers={"x-api-key": GATEWAY_KEY}, timeout=30
        )
        bridge = got.json()["providers"]["claude-cli"]
        assert bridge["configured"] is False and "no-claude" in bridge["problem"] and "probe" not in bridge
    finally:
        stop_gateway(missing)
