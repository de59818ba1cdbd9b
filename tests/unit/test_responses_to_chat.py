"""Real Codex requests → IR → the Chat Completions body sent to Groq (build_chat_request).

Golden: tests/data/golden/responses/<capture>.groq.chat.json, regenerated with UPDATE_GOLDEN=1.
Uses the shipped groq ProviderSpec (registry.builtin_providers()).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.core.providers import builtin_providers
from stackbilt_gateway.daemon.wires.chat.upstream import build_chat_request
from stackbilt_gateway.daemon.wires.responses.request import parse_responses_request

DATA = Path(__file__).resolve().parent.parent / "data"
GOLDEN = DATA / "golden" / "responses"
CAPTURES = DATA / "clients" / "codex"
CASES = [
    "responses_text_gpt-5.5",
    "responses_function_call_output_turn2_gpt-5.5",
    "responses_custom_tool_call_output_turn2_default_model",
]


def check_golden(path: Path, actual: str) -> None:
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8")


def capture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((CAPTURES / f"{name}.json").read_text("utf-8"))["request"]["body"]
    return body


@pytest.mark.parametrize("case", CASES)
def test_golden_codex_capture_to_groq_chat(case: str) -> None:
    body = capture(case)
    spec = builtin_providers()["groq"]
    out = build_chat_request(
        parse_responses_request(body), model="openai/gpt-oss-120b", spec=spec, max_output_tokens=65536
    )
    check_golden(GOLDEN / f"{case}.groq.chat.json", json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    roles = [m["role"] for m in out["messages"]]
    assert roles[0] == "system" and "developer" not in roles
    assert all(t["type"] == "function" for t in out["tools"])
    names = [t["function"]["name"] for t in out["tools"]]
    assert "web_search" not in names and "tool_search" not in names and len(names) == len(set(names))
    text = json.dumps(out)
    for key in ("prompt_cache_key", "client_metadata", "include", "encrypted_content", "cache_control"):
        assert f'"{key}"' not in text


def test_function_call_turn_keeps_the_call_and_its_result_adjacent() -> None:
    spec = builtin_providers()["groq"]
    out = build_chat_request(
        parse_responses_request(capture("responses_function_call_output_turn2_gpt-5.5")), model="m", spec=spec
    )
    assistant, tool = out["messages"][-2], out["messages"][-1]
    assert assistant["tool_calls"][0]["function"]["name"] == "exec_command"
    assert tool == {
        "role": "tool",
        "tool_call_id": assistant["tool_calls"][0]["id"],
        "content": tool["content"],
    }
    patch = next(t for t in out["tools"] if t["function"]["name"] == "apply_patch")["function"]
    assert patch["parameters"]["properties"] == {"input": {"type": "string"}}
    assert "lark grammar" in patch["description"]
