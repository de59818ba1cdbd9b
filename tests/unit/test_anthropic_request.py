"""Anthropic Messages request bodies ↔ IR: parse_request (validation + mapping) and render_request."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.core.errors import InvalidRequest
from stackbilt_gateway.daemon.core.ir import (
    DocumentPart,
    GatewayRequest,
    ImagePart,
    Message,
    OpaquePart,
    ReasoningPart,
    TextPart,
    ThinkingConfig,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from stackbilt_gateway.daemon.wires.anthropic.request import parse_request, render_request

CAPTURES = Path(__file__).resolve().parent.parent / "data" / "clients" / "claude-code"


def _capture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((CAPTURES / name).read_text("utf-8"))["request"]["body"]
    return body


def _all_capture_bodies() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(CAPTURES.glob("*.json")):
        body = json.loads(path.read_text("utf-8"))["request"].get("body")
        if isinstance(body, dict):
            out.append((path.name, body))
    return out


def _base(**kw: Any) -> dict[str, Any]:
    return {"model": "claude-x", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], **kw}


@pytest.mark.parametrize(
    ("name", "body"), _all_capture_bodies(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_claude_code_capture_parses(name: str, body: dict[str, Any]) -> None:
    req = parse_request(body, require_max_tokens="count_tokens" not in name)
    assert req.model == body["model"] and len(req.messages) == len(body["messages"])
    assert [t.name for t in req.tools] == [t["name"] for t in body.get("tools", [])]


def test_capture_tool_result_turn2_mapping() -> None:
    body = _capture("messages_tool_result_turn2.json")
    req = parse_request(body)
    assert [m.role for m in req.messages] == ["user", "system", "assistant", "user"]
    assert len(req.system) == 3 and req.system[1].cache_control == {"type": "ephemeral"}
    assert req.messages[1].parts == [TextPart(body["messages"][1]["content"])]
    assert req.messages[2].parts == [
        TextPart("I will run a command."),
        ToolCallPart(
            "toolu_testda203eae63124abe872147ba", "Bash", body["messages"][2]["content"][1]["input"]
        ),
    ]
    assert req.messages[3].parts == [
        ToolResultPart(
            "toolu_testda203eae63124abe872147ba",
            [TextPart("sample_TOOL_MARKER_42")],
            is_error=False,
            cache_control={"type": "ephemeral"},
        )
    ]
    assert len(req.tools) == 12 and all(t.kind == "function" for t in req.tools)
    assert (
        req.tools[1].parameters == body["tools"][1]["input_schema"] and req.tools[1].raw == body["tools"][1]
    )
    assert req.thinking == ThinkingConfig(enabled=True, adaptive=True, effort="medium")
    assert req.max_tokens == 128000 and req.stream is True
    assert req.user == body["metadata"]["user_id"]
    assert req.extra["context_management"] == body["context_management"]
    assert req.extra["metadata"] == body["metadata"]
    assert req.extra["thinking"] == {"type": "adaptive", "display": "omitted"}


def test_capture_thinking_signature_origin() -> None:
    req = parse_request(_capture("messages_thinking_signature_echo_turn2.json"))
    thinking = req.messages[2].parts[0]
    assert isinstance(thinking, ReasoningPart)
    assert (
        thinking.origin == "anthropic"
        and thinking.signature == "test-signature-3504e0154b374b7694d072226f169abb"
    )


def test_block_types() -> None:
    content = [
        {"type": "text", "text": "t", "cache_control": {"type": "ephemeral"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}},
        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JV"},
            "title": "T",
        },
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain"}},
        {"type": "search_result", "source": "s", "title": "r", "content": [{"type": "text", "text": "x"}]},
        {
            "type": "tool_result",
            "tool_use_id": "t1",
            "is_error": True,
            "content": [
                {"type": "text", "text": "bad"},
                {"type": "image", "source": {"type": "url", "url": "u"}},
            ],
        },
    ]
    assistant = [
        {"type": "thinking", "thinking": "mine", "signature": "gw:abc"},
        {"type": "redacted_thinking", "data": "ZZ"},
        {"type": "server_tool_use", "id": "srv", "name": "web_search", "input": {}},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": [1]}},
    ]
    req = parse_request(
        _base(messages=[{"role": "user", "content": content}, {"role": "assistant", "content": assistant}])
    )
    assert req.messages[0].parts == [
        TextPart("t", {"type": "ephemeral"}),
        ImagePart("image/png", "AA"),
        ImagePart(url="https://x/y.png"),
        DocumentPart("application/pdf", "JV", title="T"),
        DocumentPart("text/plain", "plain"),
        OpaquePart("anthropic", content[5]),
        ToolResultPart("t1", [TextPart("bad"), ImagePart(url="u")], is_error=True),
    ]
    assert req.messages[1].parts == [
        ReasoningPart("mine", "gw:abc", origin="gateway"),
        ReasoningPart(redacted="ZZ"),
        OpaquePart("anthropic", assistant[2]),
        ToolCallPart("t1", "f", {"a": [1]}),
    ]


def test_tools_tool_choice_thinking_output_config() -> None:
    body = _base(
        tools=[
            {"name": "f", "description": "d", "input_schema": {"type": "object"}, "strict": True},
            {"type": "custom", "name": "g", "input_schema": {"type": "object", "properties": {}}},
            {"type": "bash_20250124", "name": "bash"},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 2},
        ],
        tool_choice={"type": "tool", "name": "f", "disable_parallel_tool_use": True},
        thinking={"type": "enabled", "budget_tokens": 2048},
        output_config={"effort": "high", "format": {"type": "json_schema", "schema": {"type": "object"}}},
        service_tier="auto",
        cache_control={"type": "ephemeral"},
        temperature=0.5,
        top_k=3,
        stop_sequences=["x"],
    )
    req = parse_request(body)
    assert [(t.name, t.kind, t.strict) for t in req.tools] == [
        ("f", "function", True),
        ("g", "function", None),
        ("bash", "builtin", None),
        ("web_search", "builtin", None),
    ]
    assert req.tools[2].raw == body["tools"][2]
    assert req.tool_choice == ToolChoice("tool", "f", disable_parallel=True)
    assert req.thinking == ThinkingConfig(enabled=True, budget_tokens=2048, effort="high")
    assert req.response_format == {"name": "response", "schema": {"type": "object"}, "strict": None}
    assert req.extra == {
        "service_tier": "auto",
        "cache_control": {"type": "ephemeral"},
        "thinking": body["thinking"],
    }
    assert (req.temperature, req.top_k, req.stop) == (0.5, 3, ["x"])


def test_thinking_disabled_keeps_effort_in_extra() -> None:
    req = parse_request(_base(thinking={"type": "disabled"}, output_config={"effort": "low"}))
    assert req.thinking is None and req.extra == {"output_config": {"effort": "low"}}
    assert render_request(req)["output_config"] == {"effort": "low"}


def test_count_tokens_body_without_max_tokens() -> None:
    body = _capture("count_tokens_with_tools.json")
    with pytest.raises(InvalidRequest) as info:
        parse_request(body)
    assert info.value.param == "max_tokens"
    req = parse_request(body, require_max_tokens=False)
    rendered = render_request(req)
    assert req.max_tokens is None and "max_tokens" not in rendered and "stream" not in rendered


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ("not an object", None),
        ({"max_tokens": 1, "messages": []}, "model"),
        (_base(model=7), "model"),
        ({"model": "m", "max_tokens": 1}, "messages"),
        (_base(messages="hi"), "messages"),
        (_base(messages=[]), "messages"),
        (_base(messages=[{"role": "bot", "content": "x"}]), "messages.0.role"),
        (_base(messages=[{"role": "user", "content": 3}]), "messages.0.content"),
        (_base(messages=[{"role": "user", "content": [{"text": "no type"}]}]), "messages.0.content.0"),
        (_base(messages=[{"role": "user", "content": [{"type": "text"}]}]), "messages.0.content.0.text"),
        (
            _base(messages=[{"role": "system", "content": [{"type": "image", "source": {}}]}]),
            "messages.0.content.0",
        ),
        (_base(messages=[{"role": "user", "content": [{"type": "image"}]}]), "messages.0.content.0.source"),
        (
            _base(messages=[{"role": "user", "content": [{"type": "tool_result"}]}]),
            "messages.0.content.0.tool_use_id",
        ),
        (
            _base(
                messages=[
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "a", "name": "b", "input": []}],
                    }
                ]
            ),
            "messages.0.content.0.input",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        (_base(max_tokens=0), "max_tokens"),
        (_base(max_tokens="10"), "max_tokens"),
        (_base(max_tokens=True), "max_tokens"),
        (_base(temperature="warm"), "temperature"),
        (_base(top_p=[1]), "top_p"),
        (_base(top_k=1.5), "top_k"),
        (_base(stop_sequences="x"), "stop_sequences"),
        (_base(stream="yes"), "stream"),
        (_base(tools={}), "tools"),
        (_base(tools=[{"description": "no name"}]), "tools.0.name"),
        (_base(tool_choice="auto"), "tool_choice"),
        (_base(tool_choice={"type": "tool"}), "tool_choice.name"),
        (_base(system=5), "system"),
        (_base(system=[{"type": "image", "source": {"type": "url", "url": "u"}}]), "system.0"),
        (_base(thinking={"type": "enabled"}), "thinking.budget_tokens"),
        (_base(thinking={"type": "sometimes"}), "thinking.type"),
        (_base(metadata={"user_id": 5}), "metadata.user_id"),
    ],
)
def test_invalid_requests_name_the_field(body: object, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_request(body)
    assert info.value.param == param
    assert info.value.status == 400
    if param is not None:
        assert param.split(".")[0] in info.value.message


def test_system_role_message_accepts_string_and_text_blocks() -> None:
    req = parse_request(
        _base(
            messages=[
                {"role": "system", "content": "a"},
                {"role": "system", "content": [{"type": "text", "text": "b"}]},
            ]
        )
    )
    assert req.messages == [Message("system", [TextPart("a")]), Message("system", [TextPart("b")])]


# --- render_request --------------------------------------------------------------------------


def test_render_capture_round_trip_is_semantically_equal() -> None:
    body = _capture("messages_thinking_signature_echo_turn2.json")
    rendered = render_request(parse_request(copy.deepcopy(body)))
    assert parse_request(rendered) == parse_request(body)
    assert rendered["thinking"] == body["thinking"] and rendered["output_config"] == body["output_config"]
    assert rendered["tools"] == body["tools"] and rendered["system"] == body["system"]
    assert rendered["context_management"] == body["context_management"]
    assert rendered["metadata"] == body["metadata"]
    assert rendered["messages"][2]["content"][0] == body["messages"][2]["content"][0]  # signed thinking kept


def test_render_drops_empty_text_gateway_reasoning_and_foreign_blocks() -> None:
    req = GatewayRequest(
        protocol="chat",
        model="claude-x",
        max_tokens=50,
        system=[TextPart("  "), TextPart("sys")],
        messages=[
            Message("user", [TextPart(""), TextPart("q")]),
            Message(
                "assistant",
                [
                    ReasoningPart("gw thought", "gw:1234", origin="gateway"),
                    ReasoningPart("foreign", None, origin="other"),
                    OpaquePart("chat", {"type": "x"}),
                    TextPart(" \n "),
                    ToolCallPart("functions.f:0", "f", {"a": 1}),
                ],
            ),
            Message("user", [ToolResultPart("functions.f:0", [TextPart("r")])]),
            Message("assistant", [TextPart("   "), ReasoningPart("only gateway", "gw:9", origin="gateway")]),
            Message("user", [TextPart("next")]),
        ],
        tools=[
            ToolSpec("f", "d", {"type": "object"}),
            ToolSpec("web", kind="builtin", raw={"type": "web_search"}),
        ],
        tool_choice=ToolChoice("auto"),
        extra={"seed": 1},
    )
    out = render_request(req)
    assert out["system"] == [{"type": "text", "text": "sys"}]
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user", "user"]
    assert out["messages"][0]["content"] == [{"type": "text", "text": "q"}]
    tool_use = out["messages"][1]["content"]
    assert len(tool_use) == 1 and tool_use[0]["type"] == "tool_use"
    assert tool_use[0]["id"] == out["messages"][2]["content"][0]["tool_use_id"]
    assert tool_use[0]["id"] != "functions.f:0" and "gw:" not in json.dumps(out)
    assert out["tools"] == [{"name": "f", "description": "d", "input_schema": {"type": "object"}}]
    assert out["tool_choice"] == {"type": "auto"}
    assert "seed" not in out  # extras only travel between same-protocol ends


def test_render_thinking_from_effort_for_foreign_clients() -> None:
    req = GatewayRequest(
        protocol="chat",
        model="claude-x",
        messages=[Message("user", [TextPart("q")])],
        max_tokens=20000,
        temperature=0.3,
        thinking=ThinkingConfig(enabled=True, effort="medium"),
    )
    out = render_request(req)
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert "temperature" not in out
    req.max_tokens = 1000  # budget cannot reach the 1024 minimum → no thinking
    assert "thinking" not in render_request(req)
