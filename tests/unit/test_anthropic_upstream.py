"""The Anthropic upstream codec: build_anthropic_request, buffered responses, errors, the stream.

Golden files (UPDATE_GOLDEN=1 regenerates):
- tests/data/golden/anthropic_upstream/<capture>.anthropic.json: a real Codex request → Anthropic body
- tests/data/golden/anthropic_upstream/thinking_text_tools.{anthropic.sse → responses.sse}:
  an Anthropic stream → IR → the Responses SSE a Codex client receives
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.core.errors import (
    RateLimited,
    UpstreamOverloaded,
    UpstreamProtocolError,
    UpstreamRejected,
    UpstreamServerError,
)
from stackbilt_gateway.daemon.core.ir import (
    BlockStart,
    BlockStop,
    GatewayRequest,
    Message,
    MessageDelta,
    MessageStart,
    MessageStop,
    OpaquePart,
    ReasoningDelta,
    ReasoningPart,
    SignatureDelta,
    StreamError,
    StreamEvent,
    TextDelta,
    TextPart,
    ThinkingConfig,
    ToolArgsDelta,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
    Usage,
)
from stackbilt_gateway.daemon.wires.anthropic.errors import anthropic_error
from stackbilt_gateway.daemon.wires.anthropic.request import parse_request
from stackbilt_gateway.daemon.wires.anthropic.upstream import (
    INTERRUPTED_RESULT,
    AnthropicStreamDecoder,
    build_anthropic_request,
    parse_anthropic_response,
)
from stackbilt_gateway.daemon.wires.reasoning_codec import decode_thinking
from stackbilt_gateway.daemon.wires.responses.request import parse_responses_request
from stackbilt_gateway.daemon.wires.responses.response import ResponsesSSEWriter
from stackbilt_gateway.daemon.wires.sse import SSEParser
from stackbilt_gateway.daemon.wires.toolids import sanitize_tool_id

DATA = Path(__file__).resolve().parent.parent / "data"
GOLDEN = DATA / "golden" / "anthropic_upstream"
CAPTURES = DATA / "clients" / "codex"
CAPTURE_CASES = [
    "responses_text_gpt-5.5",
    "responses_function_call_output_turn2_gpt-5.5",
    "responses_custom_tool_call_output_turn2_default_model",
]
PATCH = '*** Begin Patch\n*** Update File: a.py\n@@\n-print("hi")\n+print(\'hi "there"\\n\')\n*** End Patch'


def check_golden(path: Path, actual: str) -> None:
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8")


def capture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((CAPTURES / f"{name}.json").read_text("utf-8"))["request"]["body"]
    return body


def req(messages: list[Message], **kw: Any) -> GatewayRequest:
    return GatewayRequest(protocol="responses", model="gpt-5.5", messages=messages, **kw)


# --- requests -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CAPTURE_CASES)
def test_golden_codex_capture_to_anthropic(case: str) -> None:
    body = capture(case)
    out = build_anthropic_request(
        parse_responses_request(body), model="claude-sonnet-4-6", max_output_tokens=64000
    )
    check_golden(GOLDEN / f"{case}.anthropic.json", json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    # structural checks, independent of the golden file
    assert out["model"] == "claude-sonnet-4-6" and out["max_tokens"] == 64000 and out["stream"] is True
    assert next(m["role"] for m in out["messages"]) == "user"
    assert all(m["role"] in ("user", "assistant") for m in out["messages"])
    developer = [i for i in body["input"] if i.get("role") == "developer" and i.get("type") == "message"]
    dev_texts = [p["text"] for i in developer for p in i["content"]]
    assert [b["text"] for b in out["system"]] == dev_texts
    names = [t["name"] for t in out["tools"]]
    assert len(names) == len(set(names)) and "web_search" not in names and "tool_search" not in names
    assert all("type" not in t for t in out["tools"])  # only client tools, as plain tools
    text = json.dumps(out)
    for key in ("prompt_cache_key", "client_metadata", "store", "include", "cache_control", "reasoning"):
        assert f'"{key}"' not in text


def test_capture_custom_tool_turn_pairs_call_and_result() -> None:
    out = build_anthropic_request(
        parse_responses_request(capture("responses_custom_tool_call_output_turn2_default_model")), model="c"
    )
    assistant, results = out["messages"][-2], out["messages"][-1]
    call = assistant["content"][0]
    assert call["type"] == "tool_use" and call["name"] == "exec" and set(call["input"]) == {"input"}
    assert results["content"][0]["tool_use_id"] == call["id"]
    assert "thinking" not in out  # the last tool turn has no Anthropic thinking block to replay
    exec_tool = next(t for t in out["tools"] if t["name"] == "exec")
    assert exec_tool["input_schema"]["properties"] == {"input": {"type": "string"}}
    assert "lark grammar" in exec_tool["description"]


def test_max_tokens_default_clamp_and_thinking_budget() -> None:
    base = req(
        [Message("user", [TextPart("hi")])], thinking=ThinkingConfig(effort="high"), temperature=0.3, top_k=5
    )
    out = build_anthropic_request(base, model="c")
    assert out["max_tokens"] == 32000
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 16384}
    assert "temperature" not in out and "top_k" not in out
    small = build_anthropic_request(base, model="c", max_output_tokens=4096)
    assert small["max_tokens"] == 4096 and small["thinking"]["budget_tokens"] == 4095
    base.max_tokens = 100_000
    assert build_anthropic_request(base, model="c", max_output_tokens=8192)["max_tokens"] == 8192
    base.max_tokens = 500
    assert build_anthropic_request(base, model="c")["max_tokens"] == 500
    assert "thinking" not in build_anthropic_request(base, model="c")  # budget would be < 1024
    off = req([Message("user", [TextPart("hi")])], thinking=ThinkingConfig(enabled=False, effort="minimal"))
    assert "thinking" not in build_anthropic_request(off, model="c")
    none = req([Message("user", [TextPart("hi")])], temperature=0.3)
    assert build_anthropic_request(none, model="c")[
        "temperature"
    ] == 0.3 and "thinking" not in build_anthropic_request(none, model="c")


def test_forced_tool_choice_disables_thinking() -> None:
    tools = [ToolSpec("f")]
    forced = req(
        [Message("user", [TextPart("hi")])],
        thinking=ThinkingConfig(effort="high"),
        tools=tools,
        tool_choice=ToolChoice(mode="any"),
    )
    out = build_anthropic_request(forced, model="c")
    assert "thinking" not in out and out["tool_choice"] == {"type": "any"}


def test_system_folding_merging_and_foreign_parts_dropped() -> None:
    foreign = OpaquePart("responses", {"type": "reasoning", "encrypted_content": "gAAA-openai"})
    r = req(
        [
            Message("user", [TextPart("q1")]),
            Message("system", [TextPart("mid-conversation rule")]),
            Message("user", [TextPart("q2"), TextPart("   ")]),
            Message("assistant", [foreign, ReasoningPart("groq", "gw:1", origin="gateway"), TextPart("a")]),
            Message("assistant", [OpaquePart("responses", {"type": "item_reference", "id": "x"})]),
            Message("user", [TextPart("q3")]),
        ],
        system=[TextPart("sys"), TextPart("")],
        tools=[
            ToolSpec("web_search", kind="builtin", raw={"type": "web_search"}),
            ToolSpec("f"),
            ToolSpec("f"),
        ],
    )
    out = build_anthropic_request(r, model="c")
    assert out["system"] == [
        {"type": "text", "text": "sys"},
        {"type": "text", "text": "mid-conversation rule"},
    ]
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "q1"}, {"type": "text", "text": "q2"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "a"}]},
        {"role": "user", "content": [{"type": "text", "text": "q3"}]},
    ]
    assert [t["name"] for t in out["tools"]] == ["f"]
    assert "gAAA" not in json.dumps(out)


def test_not_ours_reasoning_item_is_opaque_and_dropped_for_anthropic() -> None:
    body = {
        "model": "gpt-5.5",
        "input": [
            {"role": "user", "content": "q"},
            {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "t"}],
                "encrypted_content": "gAAAAB",
            },
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "answer"}]},
            {"role": "user", "content": "again"},
        ],
    }
    parsed = parse_responses_request(body)
    assert isinstance(parsed.messages[1].parts[0], OpaquePart)
    out = build_anthropic_request(parsed, model="c")
    assert out["messages"][1] == {"role": "assistant", "content": [{"type": "text", "text": "answer"}]}
    assert "gAAAAB" not in json.dumps(out) and "reasoning" not in json.dumps(out)


def test_tool_ids_sanitised_consistently_and_orphans_repaired() -> None:
    r = req(
        [
            Message("user", [TextPart("go")]),
            Message("assistant", [ToolCallPart("fc|odd:id", "f", {"a": 1}), ToolCallPart("lost", "f", {})]),
            Message("user", [TextPart("also this"), ToolResultPart("fc|odd:id", [TextPart("ok")])]),
            Message("user", [ToolResultPart("stray", [TextPart("late")])]),
            Message("assistant", [ToolCallPart("last", "f", {})]),
        ]
    )
    out = build_anthropic_request(r, model="c")
    msgs = out["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant", "user"]
    good = sanitize_tool_id("fc|odd:id")
    assert msgs[1]["content"][0]["id"] == good
    results = msgs[2]["content"]
    assert [b.get("tool_use_id") for b in results] == ["lost", good, None, None]  # results first
    assert results[0]["is_error"] is True and results[0]["content"] == INTERRUPTED_RESULT
    assert results[2] == {"type": "text", "text": "[result of tool call stray]\nlate"}
    assert results[3] == {"type": "text", "text": "also this"}
    assert msgs[4]["content"] == [
        {"type": "tool_result", "tool_use_id": "last", "content": INTERRUPTED_RESULT, "is_error": True}
    ]


def test_orphan_result_before_a_real_one_still_leaves_results_first() -> None:
    r = req(
        [
            Message("user", [TextPart("go")]),
            Message("assistant", [ToolCallPart("t1", "f", {})]),
            Message(
                "user", [ToolResultPart("gone", [TextPart("old")]), ToolResultPart("t1", [TextPart("new")])]
            ),
        ]
    )
    content = build_anthropic_request(r, model="c")["messages"][2]["content"]
    assert [b["type"] for b in content] == ["tool_result", "text"]
    assert content[0]["tool_use_id"] == "t1"


def test_thinking_kept_only_when_the_last_tool_turn_replays_its_thinking() -> None:
    def conversation(first: Any) -> GatewayRequest:
        return req(
            [
                Message("user", [TextPart("go")]),
                Message("assistant", [first, ToolCallPart("t1", "f", {})]),
                Message("user", [ToolResultPart("t1", [TextPart("r")])]),
            ],
            thinking=ThinkingConfig(effort="medium"),
        )

    kept = build_anthropic_request(conversation(ReasoningPart("plan", "SIG", origin="anthropic")), model="c")
    assert kept["thinking"]["type"] == "enabled"
    assert kept["messages"][1]["content"][0] == {"type": "thinking", "thinking": "plan", "signature": "SIG"}
    lost = build_anthropic_request(conversation(TextPart("no thinking here")), model="c")
    assert "thinking" not in lost


def test_anthropic_clients_keep_cache_markers_translated_clients_get_none() -> None:
    body = {
        "model": "claude-x",
        "max_tokens": 999,
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}],
            }
        ],
        "metadata": {"user_id": "u"},
    }
    out = build_anthropic_request(parse_request(body), model="claude-real", max_output_tokens=500)
    assert out["model"] == "claude-real" and out["max_tokens"] == 500
    assert out["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    translated = req([Message("user", [TextPart("hi", cache_control={"type": "ephemeral"})])])
    plain = build_anthropic_request(translated, model="c")
    assert "cache_control" not in json.dumps(plain)  # prefix markers: tests/cache/test_prefix.py


# --- buffered responses and errors ----------------------------------------------------------


def test_parse_anthropic_response_overrides_model() -> None:
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [
            {"type": "thinking", "thinking": "t", "signature": "S"},
            {"type": "text", "text": "hi"},
            {"type": "tool_use", "id": "toolu_1", "name": "apply_patch", "input": {"input": PATCH}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 7, "cache_read_input_tokens": 100},
    }
    resp = parse_anthropic_response(body, model="gpt-5.5")
    assert resp.model == "gpt-5.5" and resp.stop_reason == "tool_use"
    assert resp.parts[2] == ToolCallPart("toolu_1", "apply_patch", {"input": PATCH})
    assert resp.usage == Usage(input_tokens=5, output_tokens=7, cache_read_tokens=100)
    with pytest.raises(UpstreamProtocolError):
        parse_anthropic_response({"type": "message"}, model="m")
    with pytest.raises(UpstreamOverloaded):
        parse_anthropic_response(
            {"type": "error", "error": {"type": "overloaded_error", "message": "x"}}, model="m"
        )


def test_anthropic_error_mapping() -> None:
    body = json.dumps(
        {"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down"}}
    ).encode()
    err = anthropic_error(429, body, {"Retry-After": "7"}, "anthropic")
    assert isinstance(err, RateLimited)
    assert (err.message, err.upstream_type, err.retry_after, err.provider) == (
        "Slow down",
        "rate_limit_error",
        7.0,
        "anthropic",
    )
    err = anthropic_error(
        529,
        b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
        {"retry-after-ms": "1500"},
        "anthropic",
    )
    assert isinstance(err, UpstreamOverloaded) and err.retry_after == 1.5
    spend = {
        "type": "error",
        "error": {
            "type": "rate_limit_error",
            "message": "limit",
            "details": {"error_code": "enforced_spend_limit_reached"},
        },
    }
    assert (
        anthropic_error(429, json.dumps(spend).encode(), {}, "a").upstream_code
        == "enforced_spend_limit_reached"
    )
    err = anthropic_error(400, b"<html>bad gateway</html>", {}, "anthropic")
    assert isinstance(err, UpstreamRejected) and err.status == 400 and "bad gateway" in err.message
    assert anthropic_error(500, b"", {}, "anthropic").message == "anthropic returned HTTP 500"


# --- streaming ------------------------------------------------------------------------------


def decode_sse(raw: bytes, decoder: AnthropicStreamDecoder) -> list[StreamEvent]:
    parser = SSEParser()
    events: list[StreamEvent] = []
    for item in parser.feed(raw) + parser.flush():
        events += decoder.feed(item.event, json.loads(item.data))
    return events + decoder.finish()


def test_golden_anthropic_stream_to_responses_with_thinking_round_trip() -> None:
    source = (GOLDEN / "thinking_text_tools.anthropic.sse").read_bytes()
    request = parse_responses_request(
        {
            "model": "gpt-5.5",
            "input": "patch a.py",
            "reasoning": {"effort": "medium"},
            "tools": [
                {"type": "custom", "name": "apply_patch", "description": "Patch."},
                {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
            ],
        }
    )
    events = decode_sse(source, AnthropicStreamDecoder("gpt-5.5", provider="anthropic"))
    assert events[0] == MessageStart(
        "msg_01Up",
        "gpt-5.5",
        Usage(input_tokens=12, output_tokens=1, cache_read_tokens=4000, cache_write_tokens=300),
    )
    assert events[1:3] == [BlockStart(0, "reasoning"), ReasoningDelta(0, "The user wants ")]
    assert SignatureDelta(0, "EuYBCkQIBxgCKkBsig+/==") in events
    assert events[-2] == MessageDelta("tool_use", usage=Usage(12, 187, 4000, 300))
    assert events[-1] == MessageStop()
    writer = ResponsesSSEWriter(request, response_id="resp_golden", created_at=1_760_000_000)
    raw = b"".join(writer.render(e) for e in events)
    check_golden(GOLDEN / "thinking_text_tools.responses.sse", raw.decode())
    frames = [json.loads(f.split("\ndata: ", 1)[1]) for f in raw.decode().split("\n\n") if f]
    final = frames[-1]["response"]
    assert frames[-1]["type"] == "response.completed"
    reasoning, message, patch, exec_call = final["output"]
    assert decode_thinking(reasoning["encrypted_content"]) == ReasoningPart(
        "The user wants a patch.", "EuYBCkQIBxgCKkBsig+/==", None, "anthropic"
    )
    assert message["content"][0]["text"] == "Patching a.py now."
    assert (patch["type"], patch["input"]) == ("custom_tool_call", PATCH)
    assert (exec_call["type"], exec_call["arguments"]) == ("function_call", '{"cmd": "pytest -q"}')
    assert final["usage"]["input_tokens"] == 4312 and final["usage"]["output_tokens"] == 187
    # Codex sends the items back: the thinking block reaches Anthropic again, signature intact
    nxt = parse_responses_request(
        {
            "model": "gpt-5.5",
            "reasoning": {"effort": "medium"},
            "tools": [
                {"type": "custom", "name": "apply_patch"},
                {"type": "function", "name": "exec_command"},
            ],
            "input": [
                {"role": "user", "content": "patch a.py"},
                *final["output"],
                {"type": "custom_tool_call_output", "call_id": "toolu_01Patch", "output": "Done!"},
                {"type": "function_call_output", "call_id": "toolu_01Exec", "output": "1 passed"},
            ],
        }
    )
    body = build_anthropic_request(nxt, model="claude-sonnet-4-6")
    assert body["thinking"]["type"] == "enabled"
    assert body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "The user wants a patch.", "signature": "EuYBCkQIBxgCKkBsig+/=="},
        {"type": "text", "text": "Patching a.py now."},
        {"type": "tool_use", "id": "toolu_01Patch", "name": "apply_patch", "input": {"input": PATCH}},
        {"type": "tool_use", "id": "toolu_01Exec", "name": "exec_command", "input": {"cmd": "pytest -q"}},
    ]


def test_stream_missing_message_stop_is_an_error() -> None:
    decoder = AnthropicStreamDecoder("m")
    decoder.feed(
        "message_start", {"type": "message_start", "message": {"id": "x", "usage": {"input_tokens": 1}}}
    )
    decoder.feed("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
    decoder.feed("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "par"}})
    (end,) = decoder.finish()
    assert isinstance(end, StreamError) and isinstance(end.error, UpstreamProtocolError)
    assert decoder.finish() == [] and decoder.feed("message_stop", {}) == []


def test_stream_missing_only_message_stop_after_delta_completes() -> None:
    decoder = AnthropicStreamDecoder("m")
    decoder.feed("message_start", {"message": {"id": "x"}})
    decoder.feed("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}})
    assert decoder.finish() == [MessageStop()]


@pytest.mark.parametrize(
    ("error_type", "cls"),
    [
        ("overloaded_error", UpstreamOverloaded),
        ("rate_limit_error", RateLimited),
        ("api_error", UpstreamServerError),
    ],
)
def test_stream_error_events(error_type: str, cls: type[Exception]) -> None:
    decoder = AnthropicStreamDecoder("m", provider="anthropic")
    decoder.feed("message_start", {"message": {"id": "x"}})
    (event,) = decoder.feed("error", {"type": "error", "error": {"type": error_type, "message": "boom"}})
    assert isinstance(event, StreamError) and type(event.error) is cls
    assert event.error.message == "boom" and event.error.upstream_type == error_type  # type: ignore[attr-defined]
    assert decoder.finish() == []


def test_stream_usage_overwrite_rules_opaque_blocks_and_index_renumbering() -> None:
    decoder = AnthropicStreamDecoder("m")
    out: list[StreamEvent] = []
    out += decoder.feed(
        "message_start", {"message": {"id": "x", "usage": {"input_tokens": 0, "output_tokens": 1}}}
    )
    out += decoder.feed("ping", {"type": "ping"})
    server = {"type": "server_tool_use", "id": "srv", "name": "web_search", "input": {"q": "x"}}
    out += decoder.feed("content_block_start", {"index": 5, "content_block": server})
    out += decoder.feed("content_block_stop", {"index": 5})
    out += decoder.feed(
        "content_block_start", {"index": 6, "content_block": {"type": "redacted_thinking", "data": "R"}}
    )
    out += decoder.feed("content_block_stop", {"index": 6})
    out += decoder.feed("content_block_start", {"index": 7, "content_block": {"type": "text", "text": "pre"}})
    out += decoder.feed(
        "content_block_delta", {"index": 7, "delta": {"type": "citations_delta", "citation": {}}}
    )
    out += decoder.feed("content_block_stop", {"index": 7})
    out += decoder.feed(
        "message_delta",
        {
            "delta": {"stop_reason": "max_tokens"},
            "usage": {"output_tokens": 9, "input_tokens": 50, "cache_read_input_tokens": 7},
        },
    )
    out += decoder.feed(None, {"type": "message_stop"})
    assert out == [
        MessageStart("x", "m", Usage(output_tokens=1)),
        BlockStart(0, "opaque", opaque=server),
        BlockStop(0),
        BlockStart(1, "reasoning", redacted="R"),
        BlockStop(1),
        BlockStart(2, "text"),
        TextDelta(2, "pre"),
        BlockStop(2),
        MessageDelta("max_tokens", usage=Usage(input_tokens=50, output_tokens=9, cache_read_tokens=7)),
        MessageStop(),
    ]


def test_tool_use_with_complete_input_at_start() -> None:
    decoder = AnthropicStreamDecoder("m")
    events = decoder.feed(
        "content_block_start",
        {"index": 0, "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}},
    )
    assert events == [BlockStart(0, "tool_call", tool_id="t", tool_name="f"), ToolArgsDelta(0, '{"a": 1}')]
