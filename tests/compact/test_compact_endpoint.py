"""``POST /v1/context/compact`` against the fake upstream over real sockets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stackbilt_gateway.daemon.compact.chunking import budget_for
from stackbilt_gateway.daemon.compact.prompts import PROMPT_OVERHEAD_CHARS
from stackbilt_gateway.daemon.compact.schema import validate_facts
from stackbilt_gateway.daemon.core.tokens import CHARS_PER_TOKEN
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.compact.conftest import SMALL, SMALL_WINDOW, compact, events
from tests.fakes.gateway import GatewayThread

pytestmark = pytest.mark.e2e

AUTO_MODEL = "groq/openai/gpt-oss-20b"  # the cheapest priced model with a >= 16k window here
SECRETS = (
    "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Ff",
    "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "hunter2-very-secret",
    "AKIAIOSFODNN7EXAMPLE",
)


def transcript() -> dict[str, Any]:
    return {
        "system": "You are Claude Code. Project: the StackBilt gateway.",
        "messages": [
            {"role": "user", "content": "Add a --verbose flag to the CLI in src/cli.py."},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "let me look", "signature": "sig"},
                    {"type": "text", "text": "I'll read the file first."},
                    {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "src/cli.py"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "def main():\n    pass\n" * 200}
                ],
            },
            {"role": "assistant", "content": "Added the flag; tests pass."},
        ],
    }


def test_valid_output_is_returned(gw: GatewayThread, upstream: FakeUpstream) -> None:
    r = compact(gw, transcript(), **{"x-claude-code-session-id": "sess-compact-1"})
    assert r.status_code == 200, r.text
    data = r.json()
    assert validate_facts(data["facts"]) == []
    assert data["facts"]["files_changed"][0] == {"path": "src/app.py", "change": "edited"}
    assert data["model"] == AUTO_MODEL and data["chunks"] == 1
    assert data["usage"]["calls"] == 1 and data["usage"]["input_tokens"] > 0
    (call,) = upstream.calls("/chat/completions")
    assert call.body["model"] == "openai/gpt-oss-20b"
    system, user = call.body["messages"]
    assert system["role"] == "system" and '"durable_facts"' in system["content"]
    text = user["content"]
    assert "TASK: COMPACT part 1 of 1" in text
    assert "→ tool call Read" in text and "← tool result:" in text and "more chars]" in text
    assert "let me look" not in text  # thinking is dropped
    rows = events(gw, 1, route_class="summary")
    row = next(r for r in rows if r["session_id"] == "sess-compact-1")
    assert row["protocol"] == "compact" and row["selected_provider"] == "groq"
    assert row["signals"]["compaction"] is True and row["cost_usd"] is not None


def test_malformed_output_is_retried_once_with_the_error(gw: GatewayThread, upstream: FakeUpstream) -> None:
    upstream.compact_malformed = 1
    r = compact(gw, transcript())
    assert r.status_code == 200, r.text
    assert validate_facts(r.json()["facts"]) == []
    first, second = upstream.calls("/chat/completions")
    assert "previous answer was rejected" not in first.body["messages"][1]["content"]
    retry = second.body["messages"][1]["content"]
    assert "Your previous answer was rejected: durable_facts: expected an array" in retry
    assert r.json()["usage"]["calls"] == 2


def test_malformed_output_twice_is_a_clear_502(gw: GatewayThread, upstream: FakeUpstream) -> None:
    upstream.compact_malformed = 2
    r = compact(gw, transcript())
    assert r.status_code == 502
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "api_error"
    assert body["error"]["message"].startswith("compaction failed: the model's answer for chunk 1/1")
    assert "durable_facts: expected an array" in body["error"]["message"]
    assert body["request_id"] == r.headers["x-stackbilt-request-id"]
    assert len(upstream.calls("/chat/completions")) == 2


def test_a_transcript_larger_than_the_window_is_chunked_then_merged(
    gw: GatewayThread, upstream: FakeUpstream
) -> None:
    turns = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}: " + "word " * 700}
        for i in range(16)
    ]
    size = sum(len(t["content"]) for t in turns)
    r = compact(gw, {"messages": turns, "model": SMALL})
    assert r.status_code == 200, r.text
    data = r.json()
    budget = budget_for(SMALL_WINDOW, None, PROMPT_OVERHEAD_CHARS)
    assert size > budget.chunk_chars * 3
    chunks = data["chunks"]
    assert chunks >= 4 and data["model"] == SMALL
    calls = upstream.calls("/chat/completions")
    assert len(calls) == chunks + 1 == data["usage"]["calls"]  # one map call per chunk, one merge
    for i, call in enumerate(calls[:-1], 1):
        prompt = call.body["messages"][1]["content"]
        assert f"TASK: COMPACT part {i} of {chunks}" in prompt
        body_tokens = len(json.dumps(call.body)) / CHARS_PER_TOKEN
        assert body_tokens + call.body["max_tokens"] <= SMALL_WINDOW
    merge = calls[-1].body["messages"][1]["content"]
    assert merge.startswith(f"TASK: MERGE {chunks} COMPACTED fact sets")
    assert merge.count("<facts part=") == chunks
    assert data["facts"]["durable_facts"] == [f"merged {chunks} fact sets"]
    # every turn reached exactly one chunk, in order
    seen = [t for c in calls[:-1] for t in range(16) if f"turn {t}:" in c.body["messages"][1]["content"]]
    assert seen == list(range(16))


def test_secrets_never_reach_the_upstream(gw: GatewayThread, upstream: FakeUpstream) -> None:
    body = {
        "input": [
            {"type": "message", "role": "user", "content": f"deploy with key {SECRETS[0]} please"},
            {
                "type": "function_call",
                "call_id": "c1",
                "name": "shell",
                "arguments": json.dumps({"cmd": f"GITHUB_TOKEN={SECRETS[1]} gh pr list"}),
            },
            {"type": "function_call_output", "call_id": "c1", "output": f"password: {SECRETS[2]}\n"},
            {"type": "message", "role": "assistant", "content": f"aws key {SECRETS[3]} found"},
        ],
        "instructions": "Codex instructions",
    }
    r = compact(gw, body)
    assert r.status_code == 200, r.text
    assert r.json()["redacted"] == 4
    calls = upstream.requests
    assert calls
    for call in calls:
        for secret in SECRETS:
            assert secret not in call.raw.decode(), secret
    assert "sk-ant-***" in upstream.calls("/chat/completions")[0].body["messages"][1]["content"]


def test_bad_requests_use_the_anthropic_error_shape(gw: GatewayThread, upstream: FakeUpstream) -> None:
    r = compact(gw, {"transcript": []})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "expected a transcript" in r.json()["error"]["message"]
    r = compact(gw, {"messages": [{"role": "user", "content": "hi"}], "model": "nowhere-model"})
    assert r.status_code == 404
    assert not upstream.requests
