"""The Chat stream → IR events state machine (ChatStreamDecoder), alone and rendered as Anthropic SSE.

Golden files: tests/data/golden/sse/<case>.chat.sse → <case>.anthropic.sse. Regenerate with
UPDATE_GOLDEN=1 (then review the diff by eye).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.core.errors import RateLimited, UpstreamServerError
from stackbilt_gateway.daemon.core.ir import (
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    ReasoningDelta,
    SignatureDelta,
    StreamError,
    StreamEvent,
    TextDelta,
    ToolArgsDelta,
)
from stackbilt_gateway.daemon.wires.anthropic.response import SSEWriter
from stackbilt_gateway.daemon.wires.chat.upstream_response import ChatStreamDecoder
from stackbilt_gateway.daemon.wires.toolids import sanitize_tool_id

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden" / "sse"
MSG_ID = "msg_0123456789abcdef01234567"


def check_golden(path: Path, actual: str) -> None:
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8")


def _data_payloads(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE text, comments skipped (a tiny test-only parser)."""
    payloads = []
    for event in text.split("\n\n"):
        data = [line[5:].lstrip() for line in event.splitlines() if line.startswith("data:")]
        if data:
            payloads.append("\n".join(data))
    return payloads


def decode(text: str, model: str = "claude-opus-5-5") -> list[StreamEvent]:
    decoder = ChatStreamDecoder(model, message_id=MSG_ID)
    events = decoder.start()
    for payload in _data_payloads(text):
        if payload == "[DONE]":
            break
        events += decoder.feed(json.loads(payload))
    return events + decoder.finish()


def assert_well_formed(events: list[StreamEvent]) -> None:
    """Blocks sequential, indices strictly increasing from 0, every delta inside its block."""
    assert isinstance(events[0], MessageStart)
    open_index: int | None = None
    expected_next = 0
    for ev in events[1:]:
        if isinstance(ev, BlockStart):
            assert open_index is None and ev.index == expected_next
            open_index, expected_next = ev.index, ev.index + 1
        elif isinstance(ev, TextDelta | ReasoningDelta | SignatureDelta | ToolArgsDelta):
            assert ev.index == open_index
        elif isinstance(ev, BlockStop):
            assert ev.index == open_index
            open_index = None
        elif isinstance(ev, MessageDelta | MessageStop):
            assert open_index is None
    assert isinstance(events[-1], MessageStop) and isinstance(events[-2], MessageDelta)


@pytest.mark.parametrize("case", ["parallel_tools_reasoning", "text_no_usage"])
def test_golden_sse_transcript(case: str) -> None:
    events = decode((GOLDEN / f"{case}.chat.sse").read_text("utf-8"))
    assert_well_formed(events)
    writer = SSEWriter()
    transcript = b"".join(writer.render(ev) for ev in events).decode("utf-8")
    check_golden(GOLDEN / f"{case}.anthropic.sse", transcript)


def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "c", "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}], **extra}


def _frag(
    index: int, *, id: str | None = None, name: str | None = None, args: str | None = None
) -> dict[str, Any]:
    function: dict[str, Any] = {}
    if name is not None:
        function["name"] = name
    if args is not None:
        function["arguments"] = args
    frag: dict[str, Any] = {"index": index, "function": function}
    if id is not None:
        frag["id"] = id
    return frag


def run(chunks: list[dict[str, Any]]) -> list[StreamEvent]:
    decoder = ChatStreamDecoder("m", message_id=MSG_ID)
    events = decoder.start()
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events + decoder.finish()


def _tools(events: list[StreamEvent]) -> list[tuple[str | None, str | None, str]]:
    out = []
    for i, ev in enumerate(events):
        if isinstance(ev, BlockStart) and ev.kind == "tool_call":
            args = events[i + 1]
            assert isinstance(args, ToolArgsDelta) and isinstance(events[i + 2], BlockStop)
            out.append((ev.tool_id, ev.tool_name, args.partial_json))
    return out


def _delta(events: list[StreamEvent]) -> MessageDelta:
    found = [e for e in events if isinstance(e, MessageDelta)]
    assert len(found) == 1
    return found[0]


def test_empty_and_whitespace_content_never_open_a_text_block() -> None:
    events = run(
        [_chunk({"role": "assistant", "content": ""}), _chunk({"content": "\n"}), _chunk(finish="stop")]
    )
    assert_well_formed(events)
    assert not any(isinstance(e, BlockStart) for e in events)
    # leading whitespace is kept once real text arrives
    events = run([_chunk({"content": "\n"}), _chunk({"content": "Hi"}), _chunk({"content": ""})])
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["\nHi"]


def test_whole_tool_call_in_one_fragment() -> None:
    frag = _frag(0, id="call_1", name="Read", args='{"file_path": "/a"}')
    events = run([_chunk({"tool_calls": [frag]}, finish="tool_calls")])
    assert_well_formed(events)
    assert _tools(events) == [("call_1", "Read", '{"file_path": "/a"}')]
    assert _delta(events).stop_reason == "tool_use"


def test_interleaved_fragments_of_two_calls() -> None:
    chunks = [
        _chunk({"tool_calls": [_frag(0, id="a", name="Read", args="")]}),
        _chunk({"tool_calls": [_frag(1, id="b", name="Bash", args='{"comm')]}),
        _chunk({"tool_calls": [_frag(0, args='{"file_path"')]}),
        _chunk({"tool_calls": [_frag(1, args='and": "ls"}'), _frag(0, args=': "/a"}')]}),
        _chunk(finish="tool_calls"),
    ]
    events = run(chunks)
    assert_well_formed(events)
    assert _tools(events) == [("a", "Read", '{"file_path": "/a"}'), ("b", "Bash", '{"command": "ls"}')]


def test_missing_and_invalid_ids_are_generated_or_sanitised() -> None:
    chunks = [
        _chunk({"tool_calls": [_frag(0, name="A", args="{}")]}),
        _chunk({"tool_calls": [_frag(1, id="functions.B:1", name="B", args="{}")]}),
        _chunk({"tool_calls": [_frag(2, id="functions.B:1", name="C", args="{}")]}),
    ]
    ids = [t[0] for t in _tools(run(chunks))]
    assert ids[0] is not None and ids[0].startswith("call_")
    assert ids[1] == sanitize_tool_id("functions.B:1") != "functions.B:1"
    assert ids[2] is not None and ids[2].startswith("call_") and len(set(ids)) == 3


@pytest.mark.parametrize(
    ("args", "expected"), [("", "{}"), ("   ", "{}"), ('{"a": ', "{}"), ("[1, 2]", "{}")]
)
def test_empty_or_invalid_arguments_become_empty_object(args: str, expected: str) -> None:
    events = run([_chunk({"tool_calls": [_frag(0, id="c", name="T", args=args)]}, finish="tool_calls")])
    assert _tools(events) == [("c", "T", expected)]


def test_finish_stop_with_tool_calls_is_tool_use_and_tool_calls_without_is_end_turn() -> None:
    events = run([_chunk({"tool_calls": [_frag(0, id="c", name="T", args="{}")]}), _chunk(finish="stop")])
    assert _delta(events).stop_reason == "tool_use"
    events = run([_chunk({"content": "hi"}), _chunk(finish="tool_calls")])
    assert _delta(events).stop_reason == "end_turn"
    events = run([_chunk({"content": "hi"}), _chunk(finish="length")])
    assert _delta(events).stop_reason == "max_tokens"


def test_reasoning_then_text_blocks_with_gateway_signature() -> None:
    events = run(
        [_chunk({"reasoning_content": "th"}), _chunk({"reasoning": "ink"}), _chunk({"content": "ok"})]
    )
    assert_well_formed(events)
    starts = [e for e in events if isinstance(e, BlockStart)]
    assert [(s.index, s.kind) for s in starts] == [(0, "reasoning"), (1, "text")]
    assert starts[0].reasoning_origin == "gateway"
    sig = [e for e in events if isinstance(e, SignatureDelta)]
    assert len(sig) == 1 and sig[0].index == 0 and sig[0].signature.startswith("gw:")
    stop_0 = events.index(BlockStop(0))
    assert events[stop_0 - 1] == sig[0]  # signature right before the thinking block stops


def test_usage_chunk_and_missing_usage_estimate() -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 64}}
    events = run([_chunk({"content": "hello"}, finish="stop"), {"id": "c", "choices": [], "usage": usage}])
    got = _delta(events).usage
    assert (got.input_tokens, got.cache_read_tokens, got.output_tokens, got.estimated) == (36, 64, 7, False)
    events = run([_chunk({"content": "x" * 41}, finish="stop")])
    got = _delta(events).usage
    assert got.estimated and got.output_tokens == 10


def test_error_payload_mid_stream() -> None:
    decoder = ChatStreamDecoder("m", message_id=MSG_ID)
    decoder.start()
    assert decoder.feed(_chunk({"content": "partial"}))
    events = decoder.feed({"error": {"message": "Provider returned error", "code": 502}})
    assert len(events) == 1 and isinstance(events[0], StreamError)
    assert isinstance(events[0].error, UpstreamServerError) and events[0].error.status == 502
    assert decoder.feed(_chunk({"content": "more"})) == [] and decoder.finish() == []
    rate = ChatStreamDecoder("m").feed({"error": {"message": "slow", "type": "rate_limit_exceeded"}})
    assert isinstance(rate[0], StreamError) and isinstance(rate[0].error, RateLimited)
    frame = SSEWriter().render(events[0]).decode()
    assert frame.startswith("event: error\n") and '"type":"api_error"' in frame


def test_stream_without_finish_or_done_still_closes() -> None:
    decoder = ChatStreamDecoder("client-model")
    start = decoder.start()
    assert isinstance(start[0], MessageStart) and start[0].model == "client-model"
    assert start[0].id.startswith("msg_")
    events = start + decoder.feed(_chunk({"content": "cut"}))
    events += decoder.finish()
    assert_well_formed(events)
    assert _delta(events).stop_reason == "end_turn"
    assert decoder.finish() == []  # idempotent


def test_fragments_without_index_are_grouped_by_id() -> None:
    chunk = _chunk({"tool_calls": [{"id": "x1", "function": {"name": "A", "arguments": '{"k"'}}]})
    cont = _chunk({"tool_calls": [{"function": {"arguments": ": 1}"}}]})
    second = _chunk({"tool_calls": [{"id": "x2", "function": {"name": "B", "arguments": "{}"}}]})
    assert _tools(run([chunk, cont, second])) == [("x1", "A", '{"k": 1}'), ("x2", "B", "{}")]
