"""The benchmark scenarios: what each client sends, where, and what the upstream does with it.

Owns the request bodies and headers (including the ~200 KB Claude Code-shaped agent turn built
from ``tests/data/clients/claude-code/messages_tool_result_turn2.json``) and, per scenario, the
request that the *direct* and *reference* targets receive instead: the same bytes for
pass-through scenarios, the Chat Completions request the gateway would send for the translated
one. Does not own running anything (``bench.run``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "tests" / "data" / "clients" / "claude-code" / "messages_tool_result_turn2.json"
AGENT_TARGET_BYTES = 200 * 1024
GROQ_MODEL = "llama-3.3-70b-versatile"
PROMPT = "Reply with one short sentence about keep-alive connections."


@dataclass(frozen=True, slots=True)
class Scenario:
    """One client request, and its upstream-side equivalent for the direct/reference targets."""

    name: str
    title: str
    path: str  # the gateway endpoint (with query)
    body: bytes
    headers: tuple[tuple[str, str], ...]  # without credentials; each target adds its own
    auth_header: str  # how this client sends a key: "x-api-key" or "authorization"
    stream: bool
    upstream_path: str  # where the fake upstream serves the equivalent request
    upstream_body: bytes
    passthrough: bool  # the gateway relays upstream events 1:1 (else: translated)
    kind: str  # "small" | "stream" | "agent": which LiteLLM figure and budget rows apply


def _compact(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


ANTHROPIC_HEADERS = (("content-type", "application/json"), ("anthropic-version", "2023-06-01"))
JSON_HEADERS = (("content-type", "application/json"),)


def _anthropic(model: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    if stream:
        body["stream"] = True
    return body


def _chat(model: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _responses(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "instructions": "You are a coding agent.",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": PROMPT}]}],
        "stream": True,
        "store": False,
    }


_FILE_TEXT = "\n".join(
    f"    def method_{i}(self, value: int) -> int:\n        return value * {i} + self.offset  # line {i}"
    for i in range(40)
)


def agent_request(target_bytes: int = AGENT_TARGET_BYTES) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A Claude Code turn padded with Bash/tool_result turns to about ``target_bytes`` of JSON.

    Returns (body, headers as Claude Code sent them minus credentials and hop-by-hop).
    """
    capture = json.loads(CAPTURE.read_text())
    request = capture["request"]
    body: dict[str, Any] = request["body"]
    messages: list[dict[str, Any]] = body["messages"]
    head, tail = messages[:2], messages[2:]
    padding: list[dict[str, Any]] = []
    k = 0
    while len(_compact({**body, "messages": head + padding + tail})) < target_bytes:
        tool_id = f"toolu_bench{k:06d}padding000000"
        padding.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": f"Let me look at module {k}."},
                    {
                        "type": "tool_use",
                        "id": tool_id,
                        "name": "Bash",
                        "input": {"command": f"cat src/module_{k}.py", "description": "Show the module"},
                    },
                ],
            }
        )
        padding.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_id,
                        "content": f"class Module{k}:\n{_FILE_TEXT}",
                        "is_error": False,
                    }
                ],
            }
        )
        k += 1
    body = {**body, "messages": head + padding + tail}
    skip = {"x-api-key", "authorization", "host", "content-length", "connection", "accept-encoding"}
    headers = [(k2, v) for k2, v in request["headers"].items() if k2.lower() not in skip]
    return body, headers


def all_scenarios() -> list[Scenario]:
    """Every scenario, in run order."""
    chat_small = _chat("groq/" + GROQ_MODEL, stream=False)
    chat_stream = _chat("groq/" + GROQ_MODEL, stream=True)
    agent_body, agent_headers = agent_request()
    agent_bytes = _compact(agent_body)
    return [
        Scenario(
            "chat_small",
            "Chat Completions, small, non-streaming (groq pass-through)",
            "/v1/chat/completions",
            _compact(chat_small),
            JSON_HEADERS,
            "authorization",
            False,
            "/v1/chat/completions",
            _compact({**chat_small, "model": GROQ_MODEL}),
            True,
            "small",
        ),
        Scenario(
            "anthropic_small",
            "Anthropic Messages, small, non-streaming (pass-through)",
            "/v1/messages",
            _compact(_anthropic("claude-opus-5-5", stream=False)),
            ANTHROPIC_HEADERS,
            "x-api-key",
            False,
            "/v1/messages",
            _compact(_anthropic("claude-opus-5-5", stream=False)),
            True,
            "small",
        ),
        Scenario(
            "chat_stream",
            "Chat Completions streaming (groq pass-through)",
            "/v1/chat/completions",
            _compact(chat_stream),
            JSON_HEADERS,
            "authorization",
            True,
            "/v1/chat/completions",
            _compact({**chat_stream, "model": GROQ_MODEL}),
            True,
            "stream",
        ),
        Scenario(
            "anthropic_stream",
            "Anthropic Messages streaming (pass-through)",
            "/v1/messages",
            _compact(_anthropic("claude-opus-5-5", stream=True)),
            ANTHROPIC_HEADERS,
            "x-api-key",
            True,
            "/v1/messages",
            _compact(_anthropic("claude-opus-5-5", stream=True)),
            True,
            "stream",
        ),
        Scenario(
            "anthropic_to_chat_stream",
            "Anthropic Messages → Chat Completions, translated streaming (groq)",
            "/v1/messages",
            _compact(_anthropic("groq/" + GROQ_MODEL, stream=True)),
            ANTHROPIC_HEADERS,
            "x-api-key",
            True,
            "/v1/chat/completions",
            _compact(_chat(GROQ_MODEL, stream=True)),
            False,
            "stream",
        ),
        Scenario(
            "responses_stream",
            "Responses streaming (openai pass-through)",
            "/v1/responses",
            _compact(_responses("gpt-5.5")),
            JSON_HEADERS,
            "authorization",
            True,
            "/v1/responses",
            _compact(_responses("gpt-5.5")),
            True,
            "stream",
        ),
        Scenario(
            "agent_200k",
            "200 KB Claude Code turn, streaming (Anthropic pass-through)",
            "/v1/messages?beta=true",
            agent_bytes,
            tuple(agent_headers),
            "x-api-key",
            True,
            "/v1/messages?beta=true",
            agent_bytes,
            True,
            "agent",
        ),
    ]


def credential(scenario: Scenario, key: str) -> tuple[str, str]:
    """The header carrying ``key`` the way this scenario's client sends it."""
    if scenario.auth_header == "authorization":
        return ("authorization", f"Bearer {key}")
    return ("x-api-key", key)
