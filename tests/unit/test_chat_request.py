"""IR → Chat Completions request (build_chat_request) and Chat request → IR (parse_chat_request).

Golden files: tests/data/golden/request/<case>.chat.json, regenerated with UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.core.errors import InvalidRequest
from stackbilt_gateway.daemon.core.ir import (
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
from stackbilt_gateway.daemon.core.providers import ProviderSpec, Quirks
from stackbilt_gateway.daemon.wires.anthropic.request import parse_request
from stackbilt_gateway.daemon.wires.chat.upstream import build_chat_request, parse_chat_request
from stackbilt_gateway.daemon.wires.toolids import sanitize_tool_id

DATA = Path(__file__).resolve().parent.parent / "data"
GOLDEN = DATA / "golden" / "request"
CAPTURES = DATA / "clients" / "claude-code"


def _spec(name: str = "compat", **quirks: Any) -> ProviderSpec:
    return ProviderSpec(
        name=name,
        display_name=name,
        wires=("chat",),
        base_url="http://upstream.invalid/v1",
        auth="bearer",
        key_env=(),
        quirks=Quirks(**quirks),
    )


OPENAI = _spec("openai", max_tokens_field="max_completion_tokens", developer_role=True, stream_usage=True)
DEEPSEEK = _spec(
    "deepseek",
    drop_params=("logprobs", "top_logprobs", "top_k"),
    echo_reasoning_content=True,
    stream_usage=True,
)
GROQ = _spec(
    "groq", drop_params=("logprobs", "logit_bias", "top_logprobs", "n", "top_k"), drop_message_name=True
)


def check_golden(path: Path, actual: str) -> None:
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8")


def _capture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((CAPTURES / name).read_text("utf-8"))["request"]["body"]
    return body


GOLDEN_CASES = [
    ("tool_result_turn2_openai", CAPTURES / "messages_tool_result_turn2.json", OPENAI, "gpt-5.5", 32768),
    (
        "thinking_echo_turn2_deepseek",
        CAPTURES / "messages_thinking_signature_echo_turn2.json",
        DEEPSEEK,
        "deepseek-v4-pro",
        8192,
    ),
    (
        "mixed_parallel_tools_groq",
        GOLDEN / "mixed_parallel_tools.anthropic.json",
        GROQ,
        "gpt-oss-120b",
        16384,
    ),
]


@pytest.mark.parametrize(
    ("case", "source", "spec", "model", "limit"), GOLDEN_CASES, ids=[c[0] for c in GOLDEN_CASES]
)
def test_golden_anthropic_to_chat(
    case: str, source: Path, spec: ProviderSpec, model: str, limit: int
) -> None:
    raw = json.loads(source.read_text("utf-8"))
    body = raw["request"]["body"] if "request" in raw else raw
    out = build_chat_request(parse_request(body), model=model, spec=spec, max_output_tokens=limit)
    check_golden(GOLDEN / f"{case}.chat.json", json.dumps(out, indent=2, ensure_ascii=False) + "\n")


def test_capture_shape_openai() -> None:
    """Structural checks on the real capture, independent of the golden file."""
    body = _capture("messages_tool_result_turn2.json")
    out = build_chat_request(parse_request(body), model="gpt-5.5", spec=OPENAI, max_output_tokens=32768)
    roles = [m["role"] for m in out["messages"]]
    assert roles == ["system", "user", "system", "assistant", "tool"]
    assert out["messages"][0]["content"] == "\n\n".join(b["text"] for b in body["system"])
    assert len(out["tools"]) == 12
    assert all("$schema" not in t["function"]["parameters"] for t in out["tools"])
    assert "cache_control" not in json.dumps(out)
    assert out["max_completion_tokens"] == 32768 and "max_tokens" not in out
    assert out["reasoning_effort"] == "medium"
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}
    assert out["user"] == body["metadata"]["user_id"]
    assert "context_management" not in out and "metadata" not in out and "thinking" not in out
    call = out["messages"][3]["tool_calls"][0]
    assert out["messages"][4]["tool_call_id"] == call["id"]
    assert json.loads(call["function"]["arguments"]) == body["messages"][2]["content"][1]["input"]


def _req(messages: list[Message], **kw: Any) -> GatewayRequest:
    return GatewayRequest(protocol="anthropic", model="m", messages=messages, **kw)


def test_tool_results_become_tool_messages_then_user() -> None:
    req = _req(
        [
            Message(
                "assistant",
                [ToolCallPart("a:1", "Read", {"p": 1}), ToolCallPart("b", "Shot", {})],
            ),
            Message(
                "user",
                [
                    TextPart("after"),
                    ToolResultPart("a:1", [TextPart("one")]),
                    ToolResultPart("b", [TextPart("pic"), ImagePart("image/png", "AAA")], is_error=True),
                ],
            ),
        ]
    )
    msgs = build_chat_request(req, model="x", spec=_spec())["messages"]
    assert [m["role"] for m in msgs] == ["assistant", "tool", "tool", "user"]
    assert msgs[1] == {"role": "tool", "tool_call_id": sanitize_tool_id("a:1"), "content": "one"}
    assert msgs[0]["tool_calls"][0]["id"] == msgs[1]["tool_call_id"] != "a:1"
    assert msgs[2]["content"] == "Error: pic"
    assert msgs[3]["content"] == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
        {"type": "text", "text": "after"},
    ]


def test_reasoning_dropped_unless_echo_quirk() -> None:
    req = _req(
        [
            Message("user", [TextPart("q")]),
            Message("assistant", [ReasoningPart("think", "sig"), ToolCallPart("c1", "T", {})]),
            Message("user", [ToolResultPart("c1", [TextPart("r")])]),
            Message(
                "assistant", [ReasoningPart("later"), TextPart("done"), OpaquePart("anthropic", {"x": 1})]
            ),
        ]
    )
    plain = build_chat_request(req, model="x", spec=_spec())["messages"]
    assert "reasoning_content" not in json.dumps(plain) and "think" not in json.dumps(plain)
    echoed = build_chat_request(req, model="x", spec=_spec(echo_reasoning_content=True))["messages"]
    assert echoed[1]["reasoning_content"] == "think"
    assert "reasoning_content" not in echoed[3]  # only on tool-call turns
    assert echoed[3] == {"role": "assistant", "content": "done"}


def test_empty_assistant_turn_is_dropped() -> None:
    req = _req([Message("user", [TextPart("q")]), Message("assistant", [TextPart(""), ReasoningPart("x")])])
    assert [m["role"] for m in build_chat_request(req, model="x", spec=_spec())["messages"]] == ["user"]


def test_tools_and_tool_choice_mapping() -> None:
    tools = [
        ToolSpec("A", "a", {"$schema": "s", "type": "object", "properties": {}}),
        ToolSpec("A", "dup", {"type": "object"}),
        ToolSpec("web_search", kind="builtin", raw={"type": "web_search_20250305"}),
        ToolSpec("patch", "apply", kind="custom"),
    ]
    msgs = [Message("user", [TextPart("q")])]
    cases: list[tuple[ToolChoice, Any]] = [
        (ToolChoice("any"), "required"),
        (ToolChoice("tool", "A"), {"type": "function", "function": {"name": "A"}}),
        (ToolChoice("none"), "none"),
        (ToolChoice("auto"), "auto"),
    ]
    for choice, expected in cases:
        out = build_chat_request(_req(msgs, tools=tools, tool_choice=choice), model="x", spec=_spec())
        assert out["tool_choice"] == expected
        assert "parallel_tool_calls" not in out
    out = build_chat_request(_req(msgs, tools=tools), model="x", spec=_spec())
    assert [t["function"]["name"] for t in out["tools"]] == ["A", "patch"]
    assert out["tools"][0]["function"] == {
        "name": "A",
        "description": "a",
        "parameters": {"type": "object", "properties": {}},
    }
    assert out["tools"][1]["function"]["parameters"]["properties"] == {"input": {"type": "string"}}
    no_par = _req(msgs, tools=tools, tool_choice=ToolChoice("auto", disable_parallel=True))
    assert build_chat_request(no_par, model="x", spec=_spec())["parallel_tool_calls"] is False
    dropped = build_chat_request(no_par, model="x", spec=_spec(drop_params=("parallel_tool_calls",)))
    assert "parallel_tool_calls" not in dropped
    # no tools (or only builtin ones) → no tool_choice at all
    only_builtin = _req(msgs, tools=tools[2:3], tool_choice=ToolChoice("any", disable_parallel=True))
    out = build_chat_request(only_builtin, model="x", spec=_spec())
    assert "tools" not in out and "tool_choice" not in out and "parallel_tool_calls" not in out


@pytest.mark.parametrize(
    ("req_max", "limit", "quirks", "expected"),
    [
        (128000, 16384, {}, {"max_tokens": 16384}),
        (1000, 16384, {}, {"max_tokens": 1000}),
        (1000, None, {"max_tokens_field": "max_completion_tokens"}, {"max_completion_tokens": 1000}),
        (None, None, {}, {}),
        (None, 8192, {"always_send_max_tokens": True}, {"max_tokens": 8192}),
        (None, None, {"always_send_max_tokens": True}, {"max_tokens": 4096}),
    ],
)
def test_max_tokens(
    req_max: int | None, limit: int | None, quirks: dict[str, Any], expected: dict[str, int]
) -> None:
    req = _req([Message("user", [TextPart("q")])], max_tokens=req_max)
    out = build_chat_request(req, model="x", spec=_spec(**quirks), max_output_tokens=limit)
    assert {k: v for k, v in out.items() if k in ("max_tokens", "max_completion_tokens")} == expected


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        (None, None),
        (ThinkingConfig(budget_tokens=2048), "low"),
        (ThinkingConfig(budget_tokens=4096), "low"),
        (ThinkingConfig(budget_tokens=10000), "medium"),
        (ThinkingConfig(budget_tokens=16385), "high"),
        (ThinkingConfig(adaptive=True, effort="high"), "high"),
        (ThinkingConfig(adaptive=True, effort="max"), None),
        (ThinkingConfig(adaptive=True), None),
    ],
)
def test_reasoning_effort(thinking: ThinkingConfig | None, expected: str | None) -> None:
    out = build_chat_request(
        _req([Message("user", [TextPart("q")])], thinking=thinking), model="x", spec=_spec()
    )
    assert out.get("reasoning_effort") == expected


def test_parameters_and_drop_params() -> None:
    req = _req(
        [Message("user", [TextPart("q")])],
        temperature=0.5,
        top_p=0.9,
        top_k=5,
        stop=["END"],
        user="u1",
        stream=True,
        response_format={"name": "response", "schema": {"type": "object"}, "strict": True},
        extra={"context_management": {}, "service_tier": "auto"},
    )
    out = build_chat_request(req, model="x", spec=_spec())
    assert (
        out["temperature"] == 0.5 and out["top_p"] == 0.9 and out["stop"] == ["END"] and out["user"] == "u1"
    )
    assert "top_k" not in out and "service_tier" not in out and "context_management" not in out
    assert out["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": {"type": "object"}, "strict": True},
    }
    assert out["stream"] is True and "stream_options" not in out
    dropped = build_chat_request(req, model="x", spec=_spec(drop_params=("user", "stop", "temperature")))
    assert "user" not in dropped and "stop" not in dropped and "temperature" not in dropped
    assert dropped["top_p"] == 0.9


def test_system_messages_keep_position() -> None:
    req = _req(
        [
            Message("user", [TextPart("q")]),
            Message("system", [TextPart("mid")]),
            Message("user", [TextPart("r")]),
        ],
        system=[TextPart("a"), TextPart(""), TextPart("b", cache_control={"type": "ephemeral"})],
    )
    msgs = build_chat_request(req, model="x", spec=_spec())["messages"]
    assert msgs == [
        {"role": "system", "content": "a\n\nb"},
        {"role": "user", "content": "q"},
        {"role": "system", "content": "mid"},
        {"role": "user", "content": "r"},
    ]


# --- parse_chat_request ----------------------------------------------------------------------


def test_parse_chat_request_merges_tool_messages() -> None:
    body = {
        "model": "gpt-x",
        "messages": [
            {"role": "developer", "content": "sys"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "A", "arguments": '{"x": 1}'}},
                    {"id": "c2", "type": "function", "function": {"name": "B", "arguments": "{not json"}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "r1"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "r2"}]},
            {"role": "user", "content": "thanks"},
        ],
        "max_completion_tokens": 100,
        "stop": "END",
        "parallel_tool_calls": False,
        "reasoning_effort": "low",
        "seed": 7,
    }
    req = parse_chat_request(body)
    assert req.protocol == "chat" and req.system == [TextPart("sys")]
    assert [m.role for m in req.messages] == ["user", "assistant", "user"]
    assert req.messages[1].parts == [ToolCallPart("c1", "A", {"x": 1}), ToolCallPart("c2", "B", {})]
    assert req.messages[2].parts == [
        ToolResultPart("c1", [TextPart("r1")]),
        ToolResultPart("c2", [TextPart("r2")]),
        TextPart("thanks"),
    ]
    assert req.max_tokens == 100 and req.stop == ["END"]
    assert req.tool_choice == ToolChoice("auto", disable_parallel=True)
    assert req.thinking == ThinkingConfig(enabled=True, effort="low")
    assert req.extra == {"seed": 7}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([], None),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role"),
        ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "messages.0.tool_call_id"),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"},
            "tool_choice",
        ),
    ],
)
def test_parse_chat_request_rejects(body: object, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_chat_request(body)
    assert info.value.param == param
    assert info.value.status == 400
