"""IR → Responses: the buffered Response object and the SSE writer (ResponsesSSEWriter).

Golden: tests/data/golden/responses/<case>.responses.sse, regenerated with UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from stackbilt_gateway.daemon.core.errors import RateLimited, UpstreamRejected
from stackbilt_gateway.daemon.core.ir import (
    BlockStart,
    BlockStop,
    GatewayRequest,
    GatewayResponse,
    MessageDelta,
    MessageStart,
    MessageStop,
    OpaquePart,
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
from stackbilt_gateway.daemon.wires.reasoning_codec import decode_thinking
from stackbilt_gateway.daemon.wires.responses.request import parse_responses_request
from stackbilt_gateway.daemon.wires.responses.response import (
    ResponsesSSEWriter,
    render_responses_response,
)

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden" / "responses"
PATCH = '*** Begin Patch\n*** Update File: a.py\n@@\n-print("hi")\n+print(\'hi "there"\\n\')\n*** End Patch'


def check_golden(path: Path, actual: str) -> None:
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8")


def events_of(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(event name, payload) pairs of a Responses SSE transcript; checks name == payload type."""
    out = []
    for frame in raw.decode().split("\n\n"):
        if not frame:
            continue
        name_line, data_line = frame.split("\n")
        name = name_line.removeprefix("event: ")
        payload = json.loads(data_line.removeprefix("data: "))
        assert payload["type"] == name
        out.append((name, payload))
    return out


def codex_request(**kw: Any) -> GatewayRequest:
    body = {
        "model": "gpt-5.5",
        "input": "fix a.py",
        "stream": True,
        "reasoning": {"effort": "medium"},
        "tools": [
            {"type": "function", "name": "exec_command", "parameters": {"type": "object"}, "strict": False},
            {"type": "custom", "name": "apply_patch", "description": "Patch."},
            {"type": "namespace", "name": "agents", "tools": [{"type": "function", "name": "spawn"}]},
        ],
        **kw,
    }
    return parse_responses_request(body)


def full_turn() -> list[StreamEvent]:
    patch_json = json.dumps({"input": PATCH})
    return [
        MessageStart(id="msg_01XYZ", model="gpt-5.5", usage=Usage(input_tokens=100, cache_read_tokens=2000)),
        BlockStart(0, "reasoning", reasoning_origin="anthropic"),
        ReasoningDelta(0, "Need to "),
        ReasoningDelta(0, "patch."),
        SignatureDelta(0, "EqQBCkYIARgCsig=="),
        BlockStop(0),
        BlockStart(1, "text"),
        TextDelta(1, "I'll fix it."),
        TextDelta(1, " Now."),
        BlockStop(1),
        BlockStart(2, "tool_call", tool_id="toolu_01A", tool_name="exec_command"),
        ToolArgsDelta(2, '{"cmd": '),
        ToolArgsDelta(2, '"ls -la"}'),
        BlockStop(2),
        BlockStart(3, "tool_call", tool_id="toolu_01B", tool_name="apply_patch"),
        ToolArgsDelta(3, patch_json[:17]),
        ToolArgsDelta(3, patch_json[17:]),
        BlockStop(3),
        MessageDelta(
            "tool_use",
            usage=Usage(input_tokens=100, output_tokens=50, cache_read_tokens=2000, reasoning_tokens=12),
        ),
        MessageStop(),
    ]


def render_all(writer: ResponsesSSEWriter, events: list[StreamEvent]) -> bytes:
    return b"".join(writer.render(e) for e in events)


def test_full_turn_golden_and_invariants() -> None:
    writer = ResponsesSSEWriter(codex_request(), response_id="resp_test0001", created_at=1_760_000_000)
    raw = render_all(writer, full_turn())
    check_golden(GOLDEN / "full_turn.responses.sse", raw.decode())
    events = events_of(raw)
    # sequence numbers: 0, 1, 2, … with no gaps
    assert [p["sequence_number"] for _, p in events] == list(range(len(events)))
    names = [n for n, _ in events]
    assert names[:2] == ["response.created", "response.in_progress"]
    assert names[-1] == "response.completed" and writer.finished
    # one output_index per item, in order, and every item-level event carries its item's index
    added = [p for n, p in events if n == "response.output_item.added"]
    done = [p for n, p in events if n == "response.output_item.done"]
    assert [p["output_index"] for p in added] == [p["output_index"] for p in done] == [0, 1, 2, 3]
    by_item = {p["item"]["id"]: p["output_index"] for p in added}
    for _, p in events:
        if "item_id" in p:
            assert p["output_index"] == by_item[p["item_id"]]
    reasoning, message, call, patch = (p["item"] for p in done)
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Need to patch."}]
    thinking = decode_thinking(reasoning["encrypted_content"])
    assert thinking == ReasoningPart("Need to patch.", "EqQBCkYIARgCsig==", None, "anthropic")
    assert message["content"] == [{"type": "output_text", "text": "I'll fix it. Now.", "annotations": []}]
    assert (call["type"], call["call_id"], call["arguments"]) == (
        "function_call",
        "toolu_01A",
        '{"cmd": "ls -la"}',
    )
    assert patch["type"] == "custom_tool_call" and patch["input"] == PATCH and "arguments" not in patch
    deltas = [p["delta"] for n, p in events if n == "response.custom_tool_call_input.delta"]
    assert deltas == [PATCH]
    final = events[-1][1]["response"]
    assert final["id"] == "resp_test0001" and final["status"] == "completed" and final["model"] == "gpt-5.5"
    assert final["output"] == [p["item"] for p in done]
    assert final["usage"] == {
        "input_tokens": 2100,
        "input_tokens_details": {"cached_tokens": 2000},
        "output_tokens": 50,
        "output_tokens_details": {"reasoning_tokens": 12},
        "total_tokens": 2150,
    }


def test_stream_replays_into_the_next_request() -> None:
    """The output items, sent back as input, restore the thinking and the exact patch text."""
    raw = render_all(ResponsesSSEWriter(codex_request(), response_id="resp_x"), full_turn())
    final = events_of(raw)[-1][1]["response"]
    items = [*final["output"]]
    items.append({"type": "function_call_output", "call_id": "toolu_01A", "output": "a.py"})
    items.append({"type": "custom_tool_call_output", "call_id": "toolu_01B", "output": "Done!"})
    req = codex_request(input=[{"role": "user", "content": "fix a.py"}, *items])
    assistant = req.messages[1]
    assert assistant.role == "assistant"
    assert assistant.parts == [
        ReasoningPart("Need to patch.", "EqQBCkYIARgCsig==", None, "anthropic"),
        TextPart("I'll fix it. Now."),
        ToolCallPart("toolu_01A", "exec_command", {"cmd": "ls -la"}),
        ToolCallPart("toolu_01B", "apply_patch", {"input": PATCH}),
    ]


def test_incomplete_for_max_tokens_and_refusal() -> None:
    cases: list[tuple[StopReason, str]] = [("max_tokens", "max_output_tokens"), ("refusal", "content_filter")]
    for stop, reason in cases:
        writer = ResponsesSSEWriter(codex_request())
        raw = render_all(
            writer,
            [
                MessageStart("m", "x"),
                BlockStart(0, "text"),
                TextDelta(0, "cut"),
                MessageDelta(stop),
                MessageStop(),
            ],
        )
        name, payload = events_of(raw)[-1]
        assert name == "response.incomplete"
        assert payload["response"]["status"] == "incomplete"
        assert payload["response"]["incomplete_details"] == {"reason": reason}
        # the open text block was closed before the terminal event
        assert payload["response"]["output"][0]["content"][0]["text"] == "cut"


def test_failure_mid_stream_is_response_failed_and_ends_the_stream() -> None:
    writer = ResponsesSSEWriter(codex_request())
    raw = render_all(
        writer,
        [
            MessageStart("m", "x"),
            BlockStart(0, "text"),
            TextDelta(0, "par"),
            StreamError(RateLimited("Slow down.", retry_after=1.5)),
        ],
    )
    name, payload = events_of(raw)[-1]
    assert name == "response.failed"
    assert payload["response"]["status"] == "failed"
    assert payload["response"]["error"] == {
        "code": "rate_limit_exceeded",
        "message": "Slow down. Please try again in 2s.",
    }
    assert (
        writer.finished and writer.render(TextDelta(0, "more")) == b"" and writer.render(MessageStop()) == b""
    )
    overflow = ResponsesSSEWriter(codex_request())
    raw = overflow.render(StreamError(UpstreamRejected("too long", upstream_code="context_length_exceeded")))
    names = [n for n, _ in events_of(raw)]
    assert names == ["response.created", "response.in_progress", "response.failed"]
    assert events_of(raw)[-1][1]["response"]["error"]["code"] == "context_length_exceeded"


def test_namespaced_tool_call_gets_its_namespace_back_and_empty_args_are_braces() -> None:
    writer = ResponsesSSEWriter(codex_request())
    raw = render_all(
        writer,
        [
            MessageStart("m", "x"),
            BlockStart(0, "tool_call", tool_id="c1", tool_name="spawn"),
            BlockStop(0),
            MessageStop(),
        ],
    )
    done = next(p for n, p in events_of(raw) if n == "response.output_item.done")["item"]
    assert done == {
        "id": done["id"],
        "type": "function_call",
        "status": "completed",
        "call_id": "c1",
        "name": "spawn",
        "namespace": "agents",
        "arguments": "{}",
    }
    assert done["id"].startswith("fc_")


def test_opaque_blocks_are_skipped_without_using_an_output_index() -> None:
    writer = ResponsesSSEWriter(codex_request())
    raw = render_all(
        writer,
        [
            MessageStart("m", "x"),
            BlockStart(0, "opaque", opaque={"type": "server_tool_use", "id": "s", "name": "web_search"}),
            BlockStop(0),
            BlockStart(1, "text"),
            TextDelta(1, "hi"),
            BlockStop(1),
            MessageStop(),
        ],
    )
    added = [p for n, p in events_of(raw) if n == "response.output_item.added"]
    assert [(p["output_index"], p["item"]["type"]) for p in added] == [(0, "message")]


def test_redacted_and_foreign_reasoning() -> None:
    writer = ResponsesSSEWriter(codex_request())
    raw = render_all(
        writer,
        [
            MessageStart("m", "x"),
            BlockStart(0, "reasoning", redacted="REDACTED"),
            BlockStop(0),
            BlockStart(1, "reasoning", reasoning_origin="gateway"),
            ReasoningDelta(1, "groq thoughts"),
            SignatureDelta(1, "gw:abc"),
            BlockStop(1),
            MessageStop(),
        ],
    )
    events = events_of(raw)
    redacted, foreign = (p["item"] for n, p in events if n == "response.output_item.done")
    assert redacted["summary"] == []
    assert decode_thinking(redacted["encrypted_content"]) == ReasoningPart("", None, "REDACTED", "anthropic")
    assert foreign["summary"][0]["text"] == "groq thoughts" and "encrypted_content" not in foreign
    summary_parts = [p["output_index"] for n, p in events if n == "response.reasoning_summary_part.added"]
    assert summary_parts == [1]  # no summary events for a block without text


def test_keepalive_is_in_progress_and_counts_in_the_sequence() -> None:
    writer = ResponsesSSEWriter(codex_request())
    first = events_of(writer.keepalive())
    assert [n for n, _ in first] == ["response.created", "response.in_progress"]
    again = events_of(writer.keepalive())
    assert again[0][0] == "response.in_progress" and again[0][1]["sequence_number"] == 2
    assert writer.render(MessageStart("m", "x")) == b""  # already started


def test_buffered_response_object() -> None:
    req = codex_request()
    resp = GatewayResponse(
        id="msg_01",
        model="claude-sonnet-4-6",
        parts=[
            ReasoningPart("why", "SIG", origin="anthropic"),
            TextPart("a"),
            TextPart("  "),
            TextPart("b"),
            ToolCallPart("toolu_1", "apply_patch", {"input": PATCH}),
            ToolCallPart("toolu_2", "spawn", {"x": 1}),
            OpaquePart("anthropic", {"type": "server_tool_use"}),
        ],
        stop_reason="tool_use",
        usage=Usage(input_tokens=10, output_tokens=5, cache_read_tokens=3, cache_write_tokens=2),
    )
    out = render_responses_response(resp, request=req, created_at=123)
    assert out["id"].startswith("resp_") and out["object"] == "response" and out["created_at"] == 123
    assert (out["status"], out["incomplete_details"], out["model"]) == ("completed", None, "gpt-5.5")
    kinds = [(i["type"], i["id"][:3]) for i in out["output"]]
    assert kinds == [
        ("reasoning", "rs_"),
        ("message", "msg"),
        ("custom_tool_call", "ctc"),
        ("function_call", "fc_"),
    ]
    assert decode_thinking(out["output"][0]["encrypted_content"]) == ReasoningPart(
        "why", "SIG", None, "anthropic"
    )
    assert [c["text"] for c in out["output"][1]["content"]] == ["a", "b"]
    assert out["output"][2]["input"] == PATCH
    assert out["output"][3]["namespace"] == "agents" and json.loads(out["output"][3]["arguments"]) == {"x": 1}
    assert out["usage"]["input_tokens"] == 15 and out["usage"]["input_tokens_details"] == {"cached_tokens": 3}
    assert out["usage"]["total_tokens"] == 20
    resp.stop_reason = "max_tokens"
    cut = render_responses_response(resp, request=req)
    assert (cut["status"], cut["incomplete_details"]) == ("incomplete", {"reason": "max_output_tokens"})


def test_custom_input_whitespace_and_odd_arguments_survive() -> None:
    patch = "  *** Begin Patch\n\t+x = 'a\\\"b'\n*** End Patch\n\n"
    for pieces in ([json.dumps({"input": patch})], ['{"input"', ": ", json.dumps(patch), "}"]):
        writer = ResponsesSSEWriter(codex_request())
        events: list[StreamEvent] = [BlockStart(0, "tool_call", tool_id="c", tool_name="apply_patch")]
        events += [ToolArgsDelta(0, p) for p in pieces]
        raw = render_all(writer, [*events, BlockStop(0), MessageStop()])
        final = events_of(raw)[-1][1]["response"]
        assert final["output"][0]["input"] == patch
    # a model that ignored the schema: a single other string field, or plain text
    for args, expected in (('{"patch": "p"}', "p"), ("not json", "not json"), ("", "")):
        writer = ResponsesSSEWriter(codex_request())
        raw = render_all(
            writer,
            [
                BlockStart(0, "tool_call", tool_id="c", tool_name="apply_patch"),
                ToolArgsDelta(0, args),
                MessageStop(),
            ],
        )
        assert events_of(raw)[-1][1]["response"]["output"][0]["input"] == expected
