"""Responses request bodies → IR (parse_responses_request): items, grouping, tools, validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.core.errors import InvalidRequest
from stackbilt_gateway.daemon.core.ir import (
    DocumentPart,
    ImagePart,
    Message,
    OpaquePart,
    ReasoningPart,
    TextPart,
    ThinkingConfig,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from stackbilt_gateway.daemon.wires.reasoning_codec import encode_thinking
from stackbilt_gateway.daemon.wires.responses.request import parse_responses_request

CAPTURES = Path(__file__).resolve().parent.parent / "data" / "clients" / "codex"
PATCH = '*** Begin Patch\n*** Update File: a.py\n@@\n-print("hi")\n+print(\'hi "there"\\n\')\n*** End Patch'


def _capture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((CAPTURES / name).read_text("utf-8"))["request"]["body"]
    return body


def _body(**kw: Any) -> dict[str, Any]:
    return {"model": "gpt-5.5", "input": "hi", **kw}


def test_string_input_is_one_user_message() -> None:
    req = parse_responses_request(_body(instructions="be brief", max_output_tokens=100, stream=True))
    assert req.protocol == "responses"
    assert req.messages == [Message("user", [TextPart("hi")])]
    assert req.system == [TextPart("be brief")]
    assert (req.max_tokens, req.stream) == (100, True)


def test_developer_messages_become_system_leading_and_in_place() -> None:
    req = parse_responses_request(
        _body(
            instructions="inst",
            input=[
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "question"},
                {"role": "developer", "content": "late"},
            ],
        )
    )
    assert req.system == [TextPart("inst"), TextPart("dev"), TextPart("sys")]
    assert req.messages == [Message("user", [TextPart("question")]), Message("system", [TextPart("late")])]


def test_function_calls_group_with_preceding_assistant_message_and_outputs_group() -> None:
    req = parse_responses_request(
        _body(
            input=[
                {"role": "user", "content": "go"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a": 1}'},
                {"type": "function_call", "call_id": "c2", "name": "g", "arguments": ""},
                {"type": "function_call", "call_id": "c3", "name": "g", "arguments": "{broken"},
                {"type": "function_call_output", "call_id": "c1", "output": "one"},
                {"type": "function_call_output", "call_id": "c2", "output": ""},
                {"type": "function_call_output", "call_id": "c3", "output": "three"},
                {"role": "user", "content": "next"},
            ]
        )
    )
    assert req.messages == [
        Message("user", [TextPart("go")]),
        Message(
            "assistant",
            [
                TextPart("ok"),
                ToolCallPart("c1", "f", {"a": 1}),
                ToolCallPart("c2", "g", {}),
                ToolCallPart("c3", "g", {}),
            ],
        ),
        Message(
            "user",
            [
                ToolResultPart("c1", [TextPart("one")]),
                ToolResultPart("c2", []),
                ToolResultPart("c3", [TextPart("three")]),
            ],
        ),
        Message("user", [TextPart("next")]),
    ]


def test_function_call_output_with_an_array_output() -> None:
    req = parse_responses_request(
        _body(
            input=[
                {"type": "function_call", "call_id": "c1", "name": "view_image", "arguments": "{}"},
                {
                    "type": "function_call_output",
                    "call_id": "c1",
                    "output": [
                        {"type": "input_text", "text": "the picture:"},
                        {
                            "type": "input_image",
                            "image_url": "data:image/png;base64,iVBORw0K",
                            "detail": "auto",
                        },
                        {
                            "type": "input_file",
                            "file_data": "data:application/pdf;base64,JVBERi0=",
                            "filename": "a.pdf",
                        },
                    ],
                },
            ]
        )
    )
    assert req.messages[1] == Message(
        "user",
        [
            ToolResultPart(
                "c1",
                [
                    TextPart("the picture:"),
                    ImagePart(media_type="image/png", data="iVBORw0K"),
                    DocumentPart(media_type="application/pdf", data="JVBERi0=", title="a.pdf"),
                ],
            )
        ],
    )


def test_custom_tool_call_and_output_round_trip_the_input_exactly() -> None:
    req = parse_responses_request(
        _body(
            tools=[{"type": "custom", "name": "apply_patch", "description": "Patch files."}],
            input=[
                {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch", "input": PATCH},
                {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Done!"},
            ],
        )
    )
    assert req.messages == [
        Message("assistant", [ToolCallPart("call_p", "apply_patch", {"input": PATCH})]),
        Message("user", [ToolResultPart("call_p", [TextPart("Done!")])]),
    ]
    assert req.tools[0].kind == "custom"


def test_reasoning_items_ours_become_thinking_foreign_stay_opaque() -> None:
    ours = {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "thought"}],
        "encrypted_content": encode_thinking("thought", "SIG", None),
    }
    foreign = {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAB-openai"}
    req = parse_responses_request(
        _body(
            input=[
                {"role": "user", "content": "q"},
                ours,
                foreign,
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            ]
        )
    )
    assert req.messages[1] == Message(
        "assistant",
        [
            ReasoningPart(text="thought", signature="SIG", origin="anthropic"),
            OpaquePart("responses", foreign),
            ToolCallPart("c", "f", {}),
        ],
    )


def test_hosted_and_unknown_items_ride_along_as_opaque() -> None:
    items: list[dict[str, Any]] = [
        {"role": "user", "content": "q"},
        {"type": "local_shell_call", "call_id": "s", "action": {"type": "exec", "command": ["ls"]}},
        {"type": "local_shell_call_output", "call_id": "s", "output": "a"},
        {"type": "item_reference", "id": "msg_1"},
        {"type": "compaction", "encrypted_content": "zzz"},
    ]
    req = parse_responses_request(_body(input=items))
    assert req.messages[1:] == [
        Message("assistant", [OpaquePart("responses", items[1])]),
        Message("user", [OpaquePart("responses", items[2])]),
        Message("assistant", [OpaquePart("responses", items[3]), OpaquePart("responses", items[4])]),
    ]


def test_tools_kinds_grammar_and_namespaces() -> None:
    grammar = {"type": "grammar", "syntax": "lark", "definition": "start: PATCH"}
    req = parse_responses_request(
        _body(
            tools=[
                {
                    "type": "function",
                    "name": "exec_command",
                    "parameters": {"type": "object"},
                    "strict": False,
                },
                {"type": "custom", "name": "apply_patch", "description": "Patch.", "format": grammar},
                {"type": "web_search", "external_web_access": False},
                {"type": "tool_search", "execution": "client", "parameters": {}},
                {
                    "type": "namespace",
                    "name": "agents",
                    "description": "",
                    "tools": [
                        {"type": "function", "name": "spawn", "parameters": None},
                        {"type": "function", "name": "exec_command", "parameters": {}},
                    ],
                },
            ],
            tool_choice="required",
            parallel_tool_calls=False,
        )
    )
    kinds = [(t.name, t.kind) for t in req.tools]
    assert kinds == [
        ("exec_command", "function"),
        ("apply_patch", "custom"),
        ("web_search", "builtin"),
        ("tool_search", "builtin"),
        ("spawn", "function"),
        ("agents__exec_command", "function"),
    ]
    patch = req.tools[1]
    assert patch.description.startswith("Patch.\n\n") and patch.description.endswith(
        "lark grammar:\nstart: PATCH"
    )
    assert patch.parameters["properties"] == {"input": {"type": "string"}}
    assert req.extra["tool_namespaces"] == {
        "spawn": {"namespace": "agents", "name": "spawn"},
        "agents__exec_command": {"namespace": "agents", "name": "exec_command"},
    }
    assert req.tool_choice == ToolChoice(mode="any", disable_parallel=True)


def test_namespaced_history_items_use_the_flattened_name() -> None:
    req = parse_responses_request(
        _body(
            tools=[
                {"type": "function", "name": "exec", "parameters": {}},
                {"type": "namespace", "name": "functions", "tools": [{"type": "custom", "name": "exec"}]},
            ],
            input=[
                {
                    "type": "custom_tool_call",
                    "call_id": "c",
                    "name": "exec",
                    "namespace": "functions",
                    "input": "x",
                }
            ],
        )
    )
    assert req.messages[0].parts == [ToolCallPart("c", "functions__exec", {"input": "x"})]


def test_additional_tools_item_joins_the_tool_list() -> None:
    body = _capture("responses_custom_tool_call_output_turn2_default_model.json")
    assert "tools" not in body
    req = parse_responses_request(body)
    names = {t.name: t.kind for t in req.tools}
    assert names["exec"] == "custom" and names["wait"] == "function" and names["sleep"] == "function"
    assert req.extra["tool_namespaces"]["exec"] == {"namespace": "functions", "name": "exec"}
    # the custom_tool_call in the history names exec in namespace "functions"
    call = req.messages[-2].parts[0]
    assert isinstance(call, ToolCallPart) and call.name == "exec" and set(call.arguments) == {"input"}
    result = req.messages[-1].parts[0]
    assert isinstance(result, ToolResultPart) and len(result.content) == 2


@pytest.mark.parametrize("name", sorted(p.name for p in CAPTURES.glob("*.json")))
def test_real_codex_captures_parse(name: str) -> None:
    body = _capture(name)
    req = parse_responses_request(body)
    assert req.model == body["model"] and req.stream is True
    assert req.system and all(m.role != "system" for m in req.messages)  # developer prompt leads
    assert req.extra["store"] is False and req.extra["include"] == ["reasoning.encrypted_content"]
    assert req.extra["prompt_cache_key"] == body["prompt_cache_key"]
    effort = body["reasoning"].get("effort")
    assert req.thinking == ThinkingConfig(enabled=True, effort=effort)


def test_options_reasoning_format_and_extras() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    req = parse_responses_request(
        _body(
            reasoning={"effort": "minimal"},
            text={
                "format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True},
                "verbosity": "low",
            },
            temperature=0.2,
            top_p=0.9,
            user="u1",
            metadata={"k": "v"},
            service_tier="priority",
            previous_response_id="resp_1",
            tool_choice={"type": "function", "name": "f"},
        )
    )
    assert req.thinking == ThinkingConfig(enabled=False, effort="minimal")
    assert req.response_format == {"name": "out", "schema": schema, "strict": True}
    assert (req.temperature, req.top_p, req.user) == (0.2, 0.9, "u1")
    assert req.tool_choice == ToolChoice(mode="tool", name="f")
    for key in ("text", "metadata", "service_tier", "previous_response_id", "reasoning"):
        assert key in req.extra
    assert "temperature" not in req.extra and "input" not in req.extra


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([], None),
        ({"input": "x"}, "model"),
        ({"model": 3, "input": "x"}, "model"),
        ({"model": "m"}, "input"),
        ({"model": "m", "input": 5}, "input"),
        (_body(max_output_tokens="9"), "max_output_tokens"),
        (_body(max_output_tokens=0), "max_output_tokens"),
        (_body(max_output_tokens=True), "max_output_tokens"),
        (_body(temperature="hot"), "temperature"),
        (_body(stream="yes"), "stream"),
        (_body(tools={"type": "function"}), "tools"),
        (_body(tools=["x"]), "tools.0"),
        (_body(tools=[{"type": "function"}]), "tools.0.name"),
        (_body(tools=[{"type": "function", "name": "f", "parameters": "x"}]), "tools.0.parameters"),
        (_body(tool_choice="sometimes"), "tool_choice"),
        (_body(tool_choice=7), "tool_choice"),
        (_body(tool_choice={"type": "function"}), "tool_choice.name"),
        (_body(parallel_tool_calls="no"), "parallel_tool_calls"),
        (_body(input=["x"]), "input.0"),
        (_body(input=[{"content": "x"}]), "input.0.type"),
        (_body(input=[{"role": "robot", "content": "x"}]), "input.0.role"),
        (_body(input=[{"role": "user", "content": 5}]), "input.0.content"),
        (_body(input=[{"role": "user", "content": [{"type": "input_text"}]}]), "input.0.content.0.text"),
        (_body(input=[{"role": "user", "content": ["x"]}]), "input.0.content.0"),
        (_body(input=[{"type": "function_call", "name": "f", "arguments": "{}"}]), "input.0.call_id"),
        (_body(input=[{"type": "function_call", "call_id": "c", "arguments": "{}"}]), "input.0.name"),
        (
            _body(input=[{"type": "function_call", "call_id": "c", "name": "f", "arguments": 3}]),
            "input.0.arguments",
        ),
        (_body(input=[{"type": "function_call_output", "output": "x"}]), "input.0.call_id"),
        (_body(input=[{"type": "function_call_output", "call_id": "c", "output": 3}]), "input.0.output"),
        (_body(input=[{"type": "custom_tool_call", "call_id": "c", "name": "p"}]), "input.0.input"),
        (_body(reasoning="high"), "reasoning"),
        (_body(reasoning={"effort": 1}), "reasoning.effort"),
        (_body(instructions=["x"]), "instructions"),
    ],
)
def test_validation_names_the_field(body: object, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_responses_request(body)
    assert info.value.param == param
    assert info.value.status == 400
