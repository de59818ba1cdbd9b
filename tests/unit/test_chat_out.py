"""IR → Chat Completions for Chat *clients*: chat.completion objects and the chunk writer.

Golden: tests/data/golden/chat_out/<case>.chat.sse, regenerated with UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.core.errors import UpstreamOverloaded
from stackbilt_gateway.daemon.core.ir import (
    BlockStart,
    BlockStop,
    GatewayRequest,
    GatewayResponse,
    MessageDelta,
    MessageStart,
    MessageStop,
    ReasoningDelta,
    ReasoningPart,
    SignatureDelta,
    StopReason,
    StreamError,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolArgsDelta,
    ToolCallPart,
    Usage,
)
from stackbilt_gateway.daemon.wires.chat.response import (
    ChatChunkWriter,
    finish_reason,
    render_chat_completion,
)
from stackbilt_gateway.daemon.wires.chat.upstream import parse_chat_request

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden" / "chat_out"


def check_golden(path: Path, actual: str) -> None:
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8")


def chat_request(include_usage: bool = True) -> GatewayRequest:
    body: dict[str, Any] = {
        "model": "my-alias",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    return parse_chat_request(body)


def turn() -> list[StreamEvent]:
    return [
        MessageStart("msg_1", "x", Usage(input_tokens=40, cache_read_tokens=60)),
        BlockStart(0, "reasoning"),
        ReasoningDelta(0, "thinking"),
        SignatureDelta(0, "sig"),
        BlockStop(0),
        BlockStart(1, "text"),
        TextDelta(1, "Let me look."),
        BlockStop(1),
        BlockStart(2, "tool_call", tool_id="toolu_a", tool_name="read"),
        ToolArgsDelta(2, '{"path":'),
        ToolArgsDelta(2, ' "a.py"}'),
        BlockStop(2),
        BlockStart(3, "opaque", opaque={"type": "server_tool_use"}),
        BlockStop(3),
        BlockStart(4, "tool_call", tool_id="toolu_b", tool_name="ls"),
        BlockStop(4),
        MessageDelta(
            "tool_use",
            usage=Usage(input_tokens=40, output_tokens=30, cache_read_tokens=60, reasoning_tokens=5),
        ),
        MessageStop(),
    ]


def payloads(raw: bytes) -> list[Any]:
    out: list[Any] = []
    for frame in raw.decode().split("\n\n"):
        if frame:
            assert frame.startswith("data: ") and "\n" not in frame
            data = frame.removeprefix("data: ")
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_tool_turn_golden_and_shape() -> None:
    writer = ChatChunkWriter(chat_request(), completion_id="chatcmpl-test", created=1_760_000_000)
    raw = b"".join(writer.render(e) for e in turn())
    check_golden(GOLDEN / "tool_turn.chat.sse", raw.decode())
    chunks = payloads(raw)
    assert chunks[-1] == "[DONE]" and writer.finished
    body = chunks[:-1]
    assert {(c["id"], c["created"], c["model"], c["object"]) for c in body} == {
        ("chatcmpl-test", 1_760_000_000, "my-alias", "chat.completion.chunk")
    }
    assert body[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = [c["choices"][0]["delta"] for c in body if c["choices"]]
    assert {"reasoning_content": "thinking"} in deltas and {"content": "Let me look."} in deltas
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert calls == [
        {"index": 0, "id": "toolu_a", "type": "function", "function": {"name": "read", "arguments": ""}},
        {"index": 0, "function": {"arguments": '{"path":'}},
        {"index": 0, "function": {"arguments": ' "a.py"}'}},
        {"index": 1, "id": "toolu_b", "type": "function", "function": {"name": "ls", "arguments": ""}},
        {"index": 1, "function": {"arguments": "{}"}},  # a call without arguments still parses
    ]
    finishes = [c["choices"][0]["finish_reason"] for c in body if c["choices"]]
    assert finishes[-1] == "tool_calls" and set(finishes[:-1]) == {None}
    usage_chunk = body[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 30,
        "total_tokens": 130,
        "prompt_tokens_details": {"cached_tokens": 60},
        "completion_tokens_details": {"reasoning_tokens": 5},
    }
    assert all(c["usage"] is None for c in body[:-1])


def test_without_include_usage_no_usage_chunk_and_no_usage_key() -> None:
    writer = ChatChunkWriter(chat_request(include_usage=False))
    raw = b"".join(writer.render(e) for e in turn())
    chunks = payloads(raw)
    assert chunks[-1] == "[DONE]"
    assert all(c["choices"] and "usage" not in c for c in chunks[:-1])


def test_stream_error_is_an_error_chunk_and_no_done() -> None:
    writer = ChatChunkWriter(chat_request())
    raw = writer.render(MessageStart("m", "x")) + writer.render(TextDelta(0, "par"))
    raw += writer.render(StreamError(UpstreamOverloaded("Overloaded")))
    chunks = payloads(raw)
    assert "[DONE]" not in chunks
    assert chunks[-1] == {
        "error": {
            "message": "Overloaded",
            "type": "server_error",
            "param": None,
            "code": "server_is_overloaded",
        }
    }
    assert writer.render(MessageStop()) == b""


def test_message_stop_without_delta_still_finishes() -> None:
    writer = ChatChunkWriter(chat_request(include_usage=False))
    events: list[StreamEvent] = [BlockStart(0, "text"), TextDelta(0, "x"), MessageStop()]
    chunks = payloads(b"".join(writer.render(e) for e in events))
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop" and chunks[-1] == "[DONE]"


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("tool_use", "tool_calls"),
        ("max_tokens", "length"),
        ("context_window_exceeded", "length"),
        ("refusal", "content_filter"),
        (None, "stop"),
    ],
)
def test_finish_reason_table(stop: StopReason | None, finish: str) -> None:
    assert finish_reason(stop) == finish


def test_buffered_chat_completion() -> None:
    resp = GatewayResponse(
        id="msg_1",
        model="claude",
        parts=[
            ReasoningPart("hmm", "sig"),
            TextPart("Sure."),
            ToolCallPart("toolu_1", "read", {"path": "ä.py"}),
        ],
        stop_reason="tool_use",
        usage=Usage(input_tokens=10, output_tokens=4, cache_read_tokens=5, cache_write_tokens=1),
    )
    out = render_chat_completion(resp, request=chat_request(), created=7)
    assert out["id"].startswith("chatcmpl-") and out["object"] == "chat.completion"
    assert (out["created"], out["model"]) == (7, "my-alias")
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["index"] == 0
    assert choice["message"] == {
        "role": "assistant",
        "content": "Sure.",
        "refusal": None,
        "reasoning_content": "hmm",
        "tool_calls": [
            {
                "id": "toolu_1",
                "type": "function",
                "function": {"name": "read", "arguments": '{"path": "ä.py"}'},
            }
        ],
    }
    assert out["usage"]["prompt_tokens"] == 16 and out["usage"]["total_tokens"] == 20
    assert out["usage"]["prompt_tokens_details"] == {"cached_tokens": 5}
    empty = render_chat_completion(GatewayResponse("x", "m", []), request=chat_request())
    assert empty["choices"][0]["message"] == {"role": "assistant", "content": None, "refusal": None}
