"""IR responses and stream events → Anthropic Message objects and SSE frames (and back)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackbilt_gateway.daemon.core.errors import UpstreamOverloaded, UpstreamProtocolError
from stackbilt_gateway.daemon.core.ir import (
    BlockStart,
    BlockStop,
    GatewayResponse,
    ImagePart,
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
    ToolArgsDelta,
    ToolCallPart,
    Usage,
)
from stackbilt_gateway.daemon.wires.anthropic.response import (
    SSEWriter,
    _delta,
    parse_response,
    render_response,
)

USAGE = Usage(
    input_tokens=10, output_tokens=20, cache_read_tokens=30, cache_write_tokens=40, reasoning_tokens=5
)


def test_render_response_shape_and_usage() -> None:
    resp = GatewayResponse(
        id="msg_abc",
        model="claude-opus-5-5",
        parts=[
            ReasoningPart("why", "sig-1"),
            TextPart(""),
            TextPart("  "),
            TextPart("answer"),
            ImagePart(url="u"),
            ToolCallPart("toolu_1", "Read", {"p": "/a"}),
            OpaquePart("anthropic", {"type": "server_tool_use", "id": "s"}),
            OpaquePart("responses", {"type": "web_search_call"}),
        ],
        stop_reason="tool_use",
        usage=USAGE,
    )
    assert render_response(resp) == {
        "id": "msg_abc",
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "why", "signature": "sig-1"},
            {"type": "text", "text": "answer"},
            {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"p": "/a"}},
            {"type": "server_tool_use", "id": "s"},
        ],
        "model": "claude-opus-5-5",
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 20,
            "cache_creation_input_tokens": 40,
            "cache_read_input_tokens": 30,
        },
    }


def test_render_response_ids_stop_reasons_and_foreign_reasoning() -> None:
    resp = GatewayResponse(
        id="chatcmpl-1",
        model="m",
        parts=[ReasoningPart("r", origin="openai"), ReasoningPart(redacted="x", origin="openai")],
        stop_reason="context_window_exceeded",
    )
    out = render_response(resp)
    assert out["id"].startswith("msg_") and out["id"] == render_response(resp)["id"]  # deterministic
    assert out["stop_reason"] == "model_context_window_exceeded"
    assert len(out["content"]) == 1 and out["content"][0]["signature"].startswith("gw:")


def test_parse_response_round_trip() -> None:
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "t", "signature": "s"},
            {"type": "redacted_thinking", "data": "d"},
            {"type": "text", "text": "hello"},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
        ],
        "stop_reason": "model_context_window_exceeded",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 1,
            "output_tokens": 2,
            "cache_creation_input_tokens": 3,
            "cache_read_input_tokens": 4,
            "output_tokens_details": {"thinking_tokens": 1},
        },
    }
    resp = parse_response(body)
    assert resp.stop_reason == "context_window_exceeded"
    assert resp.usage == Usage(1, 2, cache_read_tokens=4, cache_write_tokens=3, reasoning_tokens=1)
    again = render_response(resp)
    assert again["content"] == body["content"] and again["stop_reason"] == body["stop_reason"]


@pytest.mark.parametrize(
    "body", [{}, {"id": "x", "content": "text"}, {"id": "x", "content": [{"type": "text"}]}]
)
def test_parse_response_malformed(body: dict[str, object]) -> None:
    with pytest.raises(UpstreamProtocolError):
        parse_response(body)


def _frames(data: bytes) -> tuple[str, dict[str, object]]:
    text = data.decode()
    assert text.endswith("\n\n") and text.count("\n") == 3
    event_line, data_line = text.rstrip("\n").split("\n")
    assert event_line.startswith("event: ") and data_line.startswith("data: ")
    assert ": " not in data_line[6:] and ", " not in data_line[6:]  # compact JSON
    payload = json.loads(data_line[6:])
    assert payload["type"] == event_line[7:]
    return event_line[7:], payload


@pytest.mark.parametrize(
    ("event", "name", "expected"),
    [
        (
            BlockStart(0, "text"),
            "content_block_start",
            {"index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            BlockStart(1, "reasoning"),
            "content_block_start",
            {"index": 1, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        ),
        (
            BlockStart(2, "reasoning", redacted="R"),
            "content_block_start",
            {"index": 2, "content_block": {"type": "redacted_thinking", "data": "R"}},
        ),
        (
            BlockStart(3, "tool_call", tool_id="toolu_9", tool_name="Bash"),
            "content_block_start",
            {"index": 3, "content_block": {"type": "tool_use", "id": "toolu_9", "name": "Bash", "input": {}}},
        ),
        (
            BlockStart(4, "opaque", opaque={"type": "web_search_tool_result", "tool_use_id": "s"}),
            "content_block_start",
            {"index": 4, "content_block": {"type": "web_search_tool_result", "tool_use_id": "s"}},
        ),
        (
            TextDelta(0, "hé"),
            "content_block_delta",
            {"index": 0, "delta": {"type": "text_delta", "text": "hé"}},
        ),
        (
            ReasoningDelta(1, "hm"),
            "content_block_delta",
            {"index": 1, "delta": {"type": "thinking_delta", "thinking": "hm"}},
        ),
        (
            SignatureDelta(1, "gw:1"),
            "content_block_delta",
            {"index": 1, "delta": {"type": "signature_delta", "signature": "gw:1"}},
        ),
        (
            ToolArgsDelta(3, '{"a":1}'),
            "content_block_delta",
            {"index": 3, "delta": {"type": "input_json_delta", "partial_json": '{"a":1}'}},
        ),
        (BlockStop(3), "content_block_stop", {"index": 3}),
        (
            MessageDelta("max_tokens", None, USAGE),
            "message_delta",
            {
                "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
                "usage": {
                    "output_tokens": 20,
                    "input_tokens": 10,
                    "cache_creation_input_tokens": 40,
                    "cache_read_input_tokens": 30,
                },
            },
        ),
        (MessageStop(), "message_stop", {}),
    ],
)
def test_sse_writer_frames(event: StreamEvent, name: str, expected: dict[str, object]) -> None:
    got_name, payload = _frames(SSEWriter().render(event))
    assert got_name == name
    assert payload == {"type": name, **expected}


def test_sse_message_start_and_ping_and_error() -> None:
    writer = SSEWriter()
    name, payload = _frames(writer.render(MessageStart("msg_x", "claude-opus-5-5", Usage(input_tokens=12))))
    assert name == "message_start"
    assert payload["message"] == {
        "id": "msg_x",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-opus-5-5",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "output_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    assert writer.ping() == b'event: ping\ndata: {"type":"ping"}\n\n'
    name, payload = _frames(writer.render(StreamError(UpstreamOverloaded("busy"))))
    assert payload == {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    _, payload = _frames(writer.render(StreamError(RuntimeError("boom"))))
    assert payload == {"type": "error", "error": {"type": "api_error", "message": "boom"}}


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(0, 10_000))
def test_text_delta_frames_are_the_generic_frame_byte_for_byte(text: str, index: int) -> None:
    frame = SSEWriter().render(TextDelta(index, text))
    event, data = frame.decode().removesuffix("\n\n").split("\n", 1)
    assert event == "event: content_block_delta"
    assert json.loads(data.removeprefix("data: ")) == {
        "type": "content_block_delta",
        "index": index,
        "delta": {"type": "text_delta", "text": text},
    }
    assert frame == _delta(index, {"type": "text_delta", "text": text})
