"""The Responses upstream codec: IR → ``/v1/responses`` request bodies, buffered answers and SSE
streams → IR, encrypted reasoning carried through the IR, custom tools, usage and errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stackbilt_gateway.daemon.core.errors import RateLimited, UpstreamError, UpstreamProtocolError
from stackbilt_gateway.daemon.core.ir import (
    BlockStart,
    BlockStop,
    GatewayRequest,
    ImagePart,
    Message,
    MessageDelta,
    MessageStop,
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
)
from stackbilt_gateway.daemon.core.providers import builtin_providers
from stackbilt_gateway.daemon.wires.anthropic.request import parse_request
from stackbilt_gateway.daemon.wires.anthropic.response import SSEWriter, render_response
from stackbilt_gateway.daemon.wires.chat.request import parse_chat_request
from stackbilt_gateway.daemon.wires.registry import WIRES, translation_wire
from stackbilt_gateway.daemon.wires.responses.upstream_items import SIGNATURE_PREFIX, unwrap_reasoning
from stackbilt_gateway.daemon.wires.sse import SSEEvent

OPENAI = builtin_providers()["openai"]
WIRE, CODEC = translation_wire(OPENAI)
ENCRYPTED = "gAAAAB-opaque-encrypted-reasoning=="


def build(req: GatewayRequest, model: str = "gpt-5.5", limit: int | None = None) -> dict[str, Any]:
    return CODEC.build(req, model=model, spec=OPENAI, max_output_tokens=limit)


def sse(kind: str, **data: Any) -> SSEEvent:
    return SSEEvent(event=kind, data=json.dumps({"type": kind, **data}))


def decode(events: list[SSEEvent]) -> list[StreamEvent]:
    decoder = CODEC.decoder(model="client-model", provider="openai")
    out = decoder.start()
    for event in events:
        out += decoder.feed(event)
        if decoder.done:
            break
    return out + decoder.finish()


def test_openai_translates_onto_responses() -> None:
    assert WIRE.name == "responses" and WIRE.upstream_path == "/responses"
    assert WIRES["responses"].codec is CODEC


# --- build ----------------------------------------------------------------------------------


def test_build_maps_system_turns_tools_and_is_stateless_with_encrypted_reasoning() -> None:
    req = GatewayRequest(
        protocol="anthropic",
        model="claude-x",
        system=[TextPart("You are terse.")],
        messages=[
            Message("user", [TextPart("look"), ImagePart(media_type="image/png", data="QUJD")]),
            Message("assistant", [TextPart("calling"), ToolCallPart("toolu_1", "Bash", {"command": "ls"})]),
            Message("user", [ToolResultPart("toolu_1", [TextPart("a.txt")], is_error=True)]),
            Message("system", [TextPart("mid-conversation rule")]),
        ],
        tools=[ToolSpec("Bash", "run", {"$schema": "x", "type": "object", "properties": {}})],
        tool_choice=ToolChoice(mode="any", disable_parallel=True),
        max_tokens=5,
        temperature=0.2,
        stop=["END"],
        thinking=ThinkingConfig(enabled=True, budget_tokens=20000),
        stream=True,
    )
    body = build(req, limit=3)
    assert body["store"] is False and body["include"] == ["reasoning.encrypted_content"]
    assert body["instructions"] == "You are terse." and body["stream"] is True
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["max_output_tokens"] == 16  # clamped to the limit, raised to Responses' minimum
    assert "temperature" not in body and "stop" not in body  # refused by reasoning models / absent
    assert body["tool_choice"] == "required" and body["parallel_tool_calls"] is False
    assert body["tools"] == [
        {
            "type": "function",
            "name": "Bash",
            "description": "run",
            "parameters": {"type": "object", "properties": {}},
            "strict": False,
        }
    ]
    assert body["input"] == [
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "look"},
                {"type": "input_image", "image_url": "data:image/png;base64,QUJD", "detail": "auto"},
            ],
        },
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "calling"}]},
        {"type": "function_call", "call_id": "toolu_1", "name": "Bash", "arguments": '{"command": "ls"}'},
        {"type": "function_call_output", "call_id": "toolu_1", "output": "Error: a.txt"},
        {"type": "message", "role": "developer", "content": "mid-conversation rule"},
    ]


def test_plain_models_get_sampling_and_no_reasoning_fields() -> None:
    req = GatewayRequest(
        protocol="chat", model="m", messages=[Message("user", [TextPart("hi")])], temperature=0.3, top_p=0.9
    )
    body = build(req, model="gpt-4.1-mini")
    assert body["temperature"] == 0.3 and body["top_p"] == 0.9
    assert "include" not in body and "reasoning" not in body and body["input"][0]["content"] == "hi"


def test_custom_tools_round_trip_as_custom_items() -> None:
    grammar = {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}
    chat = parse_chat_request(
        {
            "model": "gpt-5.5",
            "messages": [{"role": "user", "content": "patch it"}],
            "tools": [
                {
                    "type": "custom",
                    "custom": {"name": "apply_patch", "description": "Patch.", "format": grammar},
                }
            ],
        }
    )
    tools = chat.tools
    if not tools or tools[0].kind != "custom":  # a Chat client without custom tools: build one
        tools = [
            ToolSpec(
                "apply_patch",
                "Patch.",
                kind="custom",
                raw={"type": "custom", "name": "apply_patch", "description": "Patch.", "format": grammar},
            )
        ]
    req = GatewayRequest(
        protocol="anthropic",
        model="m",
        tools=tools,
        tool_choice=ToolChoice(mode="tool", name="apply_patch"),
        messages=[
            Message("user", [TextPart("patch it")]),
            Message("assistant", [ToolCallPart("call_9", "apply_patch", {"input": "*** Begin Patch"})]),
            Message("user", [ToolResultPart("call_9", [TextPart("Done")])]),
        ],
    )
    body = build(req)
    assert body["tools"][0]["type"] == "custom" and body["tools"][0]["format"] == grammar
    assert body["tool_choice"] == {"type": "custom", "name": "apply_patch"}
    assert body["input"][1] == {
        "type": "custom_tool_call",
        "call_id": "call_9",
        "name": "apply_patch",
        "input": "*** Begin Patch",
    }
    assert body["input"][2] == {"type": "custom_tool_call_output", "call_id": "call_9", "output": "Done"}
    # The answer: a custom_tool_call item becomes a tool call whose arguments are {"input": ...}.
    answer = CODEC.parse(
        {
            "id": "resp_1",
            "status": "completed",
            "error": None,
            "output": [
                {
                    "type": "custom_tool_call",
                    "id": "ctc_1",
                    "call_id": "call_2",
                    "name": "apply_patch",
                    "input": "P",
                }
            ],
            "usage": None,
        },
        model="m",
    )
    assert answer.parts == [ToolCallPart("call_2", "apply_patch", {"input": "P"})]
    assert answer.stop_reason == "tool_use"


# --- parse ----------------------------------------------------------------------------------

BODY: dict[str, Any] = {
    "id": "resp_abc",
    "object": "response",
    "status": "completed",
    "error": None,
    "incomplete_details": None,
    "output": [
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "Plan the call."}],
            "encrypted_content": ENCRYPTED,
        },
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Running."}],
        },
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "Bash",
            "arguments": '{"command":"ls"}',
        },
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},
    ],
    "usage": {
        "input_tokens": 1000,
        "input_tokens_details": {"cached_tokens": 600},
        "output_tokens": 50,
        "output_tokens_details": {"reasoning_tokens": 30},
        "total_tokens": 1050,
    },
}


def test_parse_reads_reasoning_text_calls_and_cached_and_reasoning_usage() -> None:
    resp = CODEC.parse(json.loads(json.dumps(BODY)), model="claude-x")
    reasoning, text, call = resp.parts
    assert isinstance(reasoning, ReasoningPart) and reasoning.text == "Plan the call."
    assert reasoning.origin == "gateway" and reasoning.signature is not None
    assert reasoning.signature.startswith(SIGNATURE_PREFIX)
    assert unwrap_reasoning(reasoning.signature) == ("rs_1", ENCRYPTED)
    assert text == TextPart("Running.") and call == ToolCallPart("call_1", "Bash", {"command": "ls"})
    assert resp.stop_reason == "tool_use" and resp.model == "claude-x"
    usage = resp.usage
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens, usage.reasoning_tokens) == (
        400,
        600,
        50,
        30,
    )


def test_encrypted_reasoning_survives_an_anthropic_client_round_trip() -> None:
    """Claude Code gets a thinking block, sends it back, and the next request carries the item."""
    resp = CODEC.parse(json.loads(json.dumps(BODY)), model="claude-x")
    shown = render_response(resp)
    thinking = shown["content"][0]
    assert thinking["type"] == "thinking" and thinking["signature"].startswith("gw:oai1:")
    tool_use = shown["content"][2]
    follow_up = parse_request(
        {
            "model": "claude-x",
            "max_tokens": 100,
            "messages": [
                {"role": "user", "content": "list files"},
                {"role": "assistant", "content": shown["content"]},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": tool_use["id"], "content": "a.txt"}],
                },
            ],
        }
    )
    items = build(follow_up)["input"]
    assert items[1] == {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "Plan the call."}],
        "encrypted_content": ENCRYPTED,
    }
    assert [i["type"] for i in items] == [
        "message",
        "reasoning",
        "message",
        "function_call",
        "function_call_output",
    ]


def test_foreign_or_forged_reasoning_is_not_sent_to_openai() -> None:
    req = GatewayRequest(
        protocol="anthropic",
        model="m",
        messages=[
            Message("user", [TextPart("q")]),
            Message(
                "assistant",
                [
                    ReasoningPart("anthropic thought", signature="EqQBCkYI", origin="anthropic"),
                    ReasoningPart("broken", signature=SIGNATURE_PREFIX + "%%%not-base64", origin="gateway"),
                    TextPart("a"),
                ],
            ),
        ],
    )
    assert [i["type"] for i in build(req)["input"]] == ["message", "message"]


@pytest.mark.parametrize(
    ("status", "details", "content", "expected"),
    [
        ("incomplete", {"reason": "max_output_tokens"}, {"type": "output_text", "text": "cut"}, "max_tokens"),
        ("incomplete", {"reason": "content_filter"}, {"type": "output_text", "text": "cut"}, "refusal"),
        ("completed", None, {"type": "refusal", "refusal": "I can't help with that."}, "refusal"),
        ("completed", None, {"type": "output_text", "text": "fine"}, "end_turn"),
    ],
)
def test_incomplete_and_refusal_become_stop_reasons(
    status: str, details: Any, content: dict[str, Any], expected: str
) -> None:
    body = {
        "id": "resp_2",
        "status": status,
        "incomplete_details": details,
        "output": [{"type": "message", "id": "m", "role": "assistant", "content": [content]}],
    }
    resp = CODEC.parse(body, model="m")
    assert resp.stop_reason == expected and resp.usage.estimated
    assert isinstance(resp.parts[0], TextPart) and resp.parts[0].text


def test_a_failed_body_raises_the_mapped_error_and_garbage_is_a_protocol_error() -> None:
    failed = {
        "id": "r",
        "status": "failed",
        "error": {"code": "rate_limit_exceeded", "message": "slow down"},
        "output": [],
    }
    with pytest.raises(RateLimited, match="slow down"):
        CODEC.parse(failed, model="m")
    with pytest.raises(UpstreamProtocolError):
        CODEC.parse({"id": "r", "status": "completed"}, model="m")


# --- stream ---------------------------------------------------------------------------------


def _created() -> list[SSEEvent]:
    started = {"id": "resp_s", "status": "in_progress", "output": [], "usage": None}
    return [sse("response.created", response=started), sse("response.in_progress", response=started)]


def _reasoning_events() -> list[SSEEvent]:
    item = {"type": "reasoning", "id": "rs_9", "summary": []}
    done = {
        **item,
        "summary": [{"type": "summary_text", "text": "Think. More."}],
        "encrypted_content": ENCRYPTED,
    }
    return [
        sse("response.output_item.added", output_index=0, item=item),
        sse(
            "response.reasoning_summary_text.delta",
            item_id="rs_9",
            output_index=0,
            summary_index=0,
            delta="Think.",
        ),
        sse(
            "response.reasoning_summary_text.delta",
            item_id="rs_9",
            output_index=0,
            summary_index=1,
            delta="More.",
        ),
        sse("response.output_item.done", output_index=0, item=done),
    ]


def test_stream_reasoning_text_tool_and_usage() -> None:
    call = {"type": "function_call", "id": "fc_2", "call_id": "call_7", "name": "Bash", "arguments": ""}
    final = {
        "id": "resp_s",
        "status": "completed",
        "output": [],
        "usage": {
            "input_tokens": 10,
            "input_tokens_details": {"cached_tokens": 4},
            "output_tokens": 7,
            "output_tokens_details": {"reasoning_tokens": 3},
        },
    }
    events = decode(
        _created()
        + _reasoning_events()
        + [
            sse(
                "response.output_item.added",
                output_index=1,
                item={"type": "message", "id": "msg_2", "content": []},
            ),
            sse("response.output_text.delta", item_id="msg_2", output_index=1, content_index=0, delta="Hel"),
            sse("response.output_text.delta", item_id="msg_2", output_index=1, content_index=0, delta="lo"),
            sse(
                "response.output_item.done",
                output_index=1,
                item={
                    "type": "message",
                    "id": "msg_2",
                    "content": [{"type": "output_text", "text": "Hello"}],
                },
            ),
            sse("response.output_item.added", output_index=2, item=call),
            sse(
                "response.function_call_arguments.delta", item_id="fc_2", output_index=2, delta='{"command":'
            ),
            sse("response.function_call_arguments.delta", item_id="fc_2", output_index=2, delta='"ls"}'),
            sse("response.output_item.done", output_index=2, item={**call, "arguments": '{"command":"ls"}'}),
            sse("response.completed", response=final),
        ]
    )
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "MessageStart",
        "BlockStart", "ReasoningDelta", "ReasoningDelta", "SignatureDelta", "BlockStop",
        "BlockStart", "TextDelta", "TextDelta", "BlockStop",
        "BlockStart", "ToolArgsDelta", "BlockStop",
        "MessageDelta", "MessageStop",
    ]  # fmt: skip
    assert isinstance(events[2], ReasoningDelta) and isinstance(events[3], ReasoningDelta)
    assert events[2].text + events[3].text == "Think.\n\nMore."
    sig = events[4]
    assert isinstance(sig, SignatureDelta) and unwrap_reasoning(sig.signature) == ("rs_9", ENCRYPTED)
    tool = events[10]
    assert isinstance(tool, BlockStart) and (tool.index, tool.tool_id, tool.tool_name) == (
        2,
        "call_7",
        "Bash",
    )
    args = events[11]
    assert isinstance(args, ToolArgsDelta) and json.loads(args.partial_json) == {"command": "ls"}
    delta = events[-2]
    assert isinstance(delta, MessageDelta) and delta.stop_reason == "tool_use"
    assert (delta.usage.input_tokens, delta.usage.cache_read_tokens, delta.usage.reasoning_tokens) == (
        6,
        4,
        3,
    )


def test_stream_custom_tool_call_and_incomplete() -> None:
    item = {
        "type": "custom_tool_call",
        "id": "ctc_1",
        "call_id": "call_c",
        "name": "apply_patch",
        "input": "",
    }
    events = decode(
        [
            *_created(),
            sse("response.output_item.added", output_index=0, item=item),
            sse("response.custom_tool_call_input.delta", item_id="ctc_1", output_index=0, delta="*** Begin"),
            sse("response.output_item.done", output_index=0, item={**item, "input": ""}),
            sse(
                "response.incomplete",
                response={"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}},
            ),
        ]
    )
    args = next(e for e in events if isinstance(e, ToolArgsDelta))
    assert json.loads(args.partial_json) == {
        "input": "*** Begin"
    }  # the streamed input when the item has none
    delta = next(e for e in events if isinstance(e, MessageDelta))
    assert delta.stop_reason == "tool_use" and delta.usage.estimated


def test_stream_refusal_delta_is_text_with_the_refusal_stop_reason() -> None:
    events = decode(
        [
            *_created(),
            sse("response.refusal.delta", item_id="msg_r", output_index=0, content_index=0, delta="No."),
            sse(
                "response.output_item.done",
                output_index=0,
                item={"type": "message", "id": "msg_r", "content": [{"type": "refusal", "refusal": "No."}]},
            ),
            sse("response.completed", response={"status": "completed", "usage": None}),
        ]
    )
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["No."]
    assert next(e for e in events if isinstance(e, MessageDelta)).stop_reason == "refusal"


@pytest.mark.parametrize(
    "failure",
    [
        sse(
            "response.failed",
            response={
                "id": "r",
                "status": "failed",
                "error": {"code": "server_error", "message": "model crashed"},
            },
        ),
        sse("error", code="rate_limit_exceeded", message="model crashed", param=None),
        SSEEvent(
            event="error",
            data=json.dumps({"type": "error", "error": {"type": "server_error", "message": "model crashed"}}),
        ),
    ],
)
def test_response_failed_and_error_events_mid_stream_end_it_with_the_mapped_error(failure: SSEEvent) -> None:
    decoder = CODEC.decoder(model="m", provider="openai")
    decoder.start()
    out: list[StreamEvent] = []
    for event in [*_created(), sse("response.output_text.delta", item_id="m1", delta="partial"), failure]:
        out += decoder.feed(event)
    assert decoder.done
    error = out[-1]
    assert isinstance(error, StreamError) and isinstance(error.error, UpstreamError)
    assert "model crashed" in str(error.error) and error.error.provider == "openai"
    assert decoder.finish() == []


def test_the_anthropic_client_sees_a_mid_stream_failure_as_its_error_event() -> None:
    writer = SSEWriter()
    decoder = CODEC.decoder(model="claude-x", provider="openai")
    chunks = [writer.render(e) for e in decoder.start()]
    for event in [*_created(), sse("response.output_text.delta", item_id="m1", delta="partial")]:
        chunks += [writer.render(e) for e in decoder.feed(event)]
    failure = sse(
        "response.failed", response={"status": "failed", "error": {"code": "server_error", "message": "boom"}}
    )
    (error,) = decoder.feed(failure)
    chunks.append(writer.render(error))
    text = b"".join(chunks).decode()
    assert "event: error" in text and "boom" in text and "message_stop" not in text


def test_a_stream_cut_before_its_terminal_event_is_a_protocol_error() -> None:
    decoder = CODEC.decoder(model="m", provider="openai")
    decoder.start()
    for event in _created():
        decoder.feed(event)
    with pytest.raises(UpstreamProtocolError, match="before it finished"):
        decoder.finish()


def test_an_unreadable_event_is_a_protocol_error() -> None:
    decoder = CODEC.decoder(model="m", provider="openai")
    with pytest.raises(UpstreamProtocolError):
        decoder.feed(SSEEvent(event="response.output_text.delta", data="{not json"))


def test_reasoning_without_summary_deltas_still_carries_its_item() -> None:
    item = {"type": "reasoning", "id": "rs_q", "summary": [], "encrypted_content": ENCRYPTED}
    events = decode(
        [
            *_created(),
            sse("response.output_item.done", output_index=0, item=item),
            sse("response.completed", response={"status": "completed"}),
        ]
    )
    start = events[1]
    assert isinstance(start, BlockStart) and start.kind == "reasoning" and start.reasoning_origin == "gateway"
    sig = next(e for e in events if isinstance(e, SignatureDelta))
    assert unwrap_reasoning(sig.signature) == ("rs_q", ENCRYPTED)
    assert isinstance(events[3], BlockStop) and isinstance(events[-1], MessageStop)
