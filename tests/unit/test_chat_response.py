"""Chat Completions response → IR (parse_chat_response), and upstream errors (chat_error).

Golden files: tests/data/golden/response/<case>.chat.json → <case>.anthropic.json (the Chat body
parsed to IR and rendered as an Anthropic Message). Regenerate with UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.core.errors import (
    RateLimited,
    UpstreamOverloaded,
    UpstreamProtocolError,
    UpstreamRejected,
    UpstreamServerError,
    UpstreamTimeout,
)
from stackbilt_gateway.daemon.core.ir import ReasoningPart, TextPart, ToolCallPart, Usage
from stackbilt_gateway.daemon.wires.anthropic.response import render_response
from stackbilt_gateway.daemon.wires.chat.upstream_response import parse_chat_response
from stackbilt_gateway.daemon.wires.openai_errors import openai_error as chat_error
from stackbilt_gateway.daemon.wires.toolids import sanitize_tool_id

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden" / "response"
ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def check_golden(path: Path, actual: str) -> None:
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", ["tool_calls_reasoning", "length_no_usage"])
def test_golden_chat_to_anthropic(case: str) -> None:
    body = json.loads((GOLDEN / f"{case}.chat.json").read_text("utf-8"))
    message = render_response(parse_chat_response(body, model="claude-opus-5-5"))
    check_golden(GOLDEN / f"{case}.anthropic.json", json.dumps(message, indent=2, ensure_ascii=False) + "\n")


def _body(message: dict[str, Any], finish: str | None = "stop", usage: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def test_tool_calls_ids_arguments_and_stop_reason() -> None:
    body = json.loads((GOLDEN / "tool_calls_reasoning.chat.json").read_text("utf-8"))
    resp = parse_chat_response(body, model="client-name")
    assert resp.model == "client-name"
    reasoning, text, *calls = resp.parts
    assert isinstance(reasoning, ReasoningPart) and reasoning.origin == "gateway"
    assert reasoning.signature is not None and reasoning.signature.startswith("gw:")
    assert text == TextPart("I'll read both files.")
    assert all(isinstance(c, ToolCallPart) for c in calls)
    tool_calls = [c for c in calls if isinstance(c, ToolCallPart)]
    ids = [c.id for c in tool_calls]
    assert ids[0] == sanitize_tool_id("functions.Read:0")
    assert all(ID_RE.match(i) for i in ids) and len(set(ids)) == 4  # missing + duplicate regenerated
    assert ids[1].startswith("call_") and ids[2].startswith("call_")
    assert [c.arguments for c in tool_calls] == [
        {"file_path": "/src/a.py"},
        {"file_path": "/src/b.py"},
        {},
        {},
    ]
    assert resp.stop_reason == "tool_use"  # finish_reason said "stop"
    assert resp.usage == Usage(
        input_tokens=1500,
        output_tokens=350,
        cache_read_tokens=10000,
        cache_write_tokens=500,
        reasoning_tokens=120,
    )


@pytest.mark.parametrize(
    ("finish", "tool_calls", "expected"),
    [
        ("stop", None, "end_turn"),
        ("tool_calls", [], "end_turn"),
        ("length", None, "max_tokens"),
        ("content_filter", None, "refusal"),
        (None, None, "end_turn"),
        ("eos", None, "end_turn"),
        ("stop", [{"id": "c", "function": {"name": "f", "arguments": "{}"}}], "tool_use"),
    ],
)
def test_stop_reasons(finish: str | None, tool_calls: Any, expected: str) -> None:
    message: dict[str, Any] = {"role": "assistant", "content": "hi"}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    assert parse_chat_response(_body(message, finish), model="m").stop_reason == expected


def test_no_empty_text_part_and_estimated_usage() -> None:
    for content in ("", None, "  \n"):
        resp = parse_chat_response(_body({"role": "assistant", "content": content}), model="m")
        assert resp.parts == []
        assert render_response(resp)["content"] == []
    resp = parse_chat_response(_body({"role": "assistant", "content": "x" * 40}), model="m")
    assert resp.usage.estimated and resp.usage.output_tokens == 10


def test_openrouter_reasoning_field_and_deepseek_cache_hits() -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 5, "prompt_cache_hit_tokens": 60}
    resp = parse_chat_response(_body({"content": "ok", "reasoning": "hmm"}, usage=usage), model="m")
    assert isinstance(resp.parts[0], ReasoningPart) and resp.parts[0].text == "hmm"
    assert resp.usage.input_tokens == 40 and resp.usage.cache_read_tokens == 60


@pytest.mark.parametrize("body", [{}, {"choices": []}, {"id": "x", "choices": None}])
def test_body_without_choices_is_protocol_error(body: dict[str, Any]) -> None:
    with pytest.raises(UpstreamProtocolError):
        parse_chat_response(body, model="m")


def test_error_body_under_200_raises_mapped_error() -> None:
    with pytest.raises(RateLimited):
        parse_chat_response({"error": {"message": "slow down", "code": 429}}, model="m")


# --- chat_error ------------------------------------------------------------------------------


def test_chat_error_openai_shape_with_retry_after() -> None:
    body = json.dumps(
        {
            "error": {
                "message": "Rate limit reached",
                "type": "requests",
                "code": "rate_limit_exceeded",
                "param": None,
            }
        }
    ).encode()
    err = chat_error(429, body, {"Retry-After": "7"}, "groq")
    assert isinstance(err, RateLimited)
    assert (err.status, err.message, err.retry_after) == (429, "Rate limit reached", 7.0)
    assert (err.provider, err.upstream_type, err.upstream_code) == ("groq", "requests", "rate_limit_exceeded")


def test_chat_error_retry_after_ms_preferred() -> None:
    err = chat_error(429, b"{}", {"retry-after": "9", "retry-after-ms": "1500"}, "openai")
    assert err.retry_after == 1.5


def test_chat_error_openrouter_numeric_code() -> None:
    body = b'{"error": {"code": 502, "message": "Model is down", "metadata": {"provider_name": "x"}}}'
    err = chat_error(502, body, {}, "openrouter")
    assert isinstance(err, UpstreamServerError)
    assert (err.status, err.message, err.upstream_code, err.upstream_type) == (
        502,
        "Model is down",
        "502",
        None,
    )


@pytest.mark.parametrize(
    ("status", "body", "cls", "message"),
    [
        (503, b"<html>Service Unavailable</html>", UpstreamServerError, "<html>Service Unavailable</html>"),
        (400, b"", UpstreamRejected, "lmstudio returned HTTP 400"),
        (504, b'{"message": "gateway timeout"}', UpstreamTimeout, "gateway timeout"),
        (529, b'{"error": "overloaded"}', UpstreamOverloaded, "overloaded"),
    ],
)
def test_chat_error_non_openai_bodies(status: int, body: bytes, cls: type, message: str) -> None:
    err = chat_error(status, body, {"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}, "lmstudio")
    assert isinstance(err, cls)
    assert err.status == status and err.message == message and err.retry_after is None
