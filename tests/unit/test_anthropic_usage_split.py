"""Cache writes split by lifetime (5 minutes / 1 hour) on every Anthropic usage reader.

Real-shaped Messages bodies and SSE streams: ``usage.cache_creation`` carries
``ephemeral_5m_input_tokens`` / ``ephemeral_1h_input_tokens``; a ``message_delta`` often repeats
only the total (``cache_creation_input_tokens``), which must keep the 1-hour part seen in
``message_start``. Readers: the pass-through tap and body reader (``wires.anthropic.usage``),
``parse_usage`` / ``parse_anthropic_response``, the upstream stream decoder, and back out through
``render_usage`` / ``SSEWriter`` to an Anthropic client.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stackbilt_gateway.daemon.core.ir import MessageDelta, MessageStart, StreamEvent, Usage
from stackbilt_gateway.daemon.wires.anthropic.response import SSEWriter, parse_usage, render_usage
from stackbilt_gateway.daemon.wires.anthropic.upstream import AnthropicStreamDecoder, parse_anthropic_response
from stackbilt_gateway.daemon.wires.anthropic.usage import AnthropicUsageTap, body_usage
from stackbilt_gateway.daemon.wires.sse import SSEParser

START_USAGE: dict[str, Any] = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 180_000,
    "cache_read_input_tokens": 40_000,
    "cache_creation": {"ephemeral_5m_input_tokens": 30_000, "ephemeral_1h_input_tokens": 150_000},
    "output_tokens": 1,
    "service_tier": "standard",
}
# What message_delta repeats today: cumulative totals, no lifetime split.
DELTA_USAGE: dict[str, Any] = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 180_000,
    "cache_read_input_tokens": 40_000,
    "output_tokens": 95,
}
EXPECTED = Usage(
    input_tokens=12,
    output_tokens=95,
    cache_read_tokens=40_000,
    cache_write_tokens=180_000,
    cache_write_1h_tokens=150_000,
)


def frame(kind: str, payload: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n".encode()


def stream(delta_usage: dict[str, Any]) -> bytes:
    message = {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": START_USAGE,
    }
    return (
        frame("message_start", {"message": message})
        + frame("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        + frame("ping", {})
        + frame("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Hello"}})
        + frame("content_block_stop", {"index": 0})
        + frame(
            "message_delta",
            {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": delta_usage},
        )
        + frame("message_stop", {})
    )


def body(usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "Hello"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }


def decode(raw: bytes) -> list[StreamEvent]:
    decoder = AnthropicStreamDecoder("claude-sonnet-4-5", provider="anthropic")
    parser = SSEParser()
    events: list[StreamEvent] = []
    for item in parser.feed(raw) + parser.flush():
        events += decoder.feed(item.event, json.loads(item.data))
    return events + decoder.finish()


# --- pass-through: the tap and the buffered body reader -----------------------------------------


@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
def test_tap_keeps_the_1h_part_when_message_delta_states_only_the_total(size: int) -> None:
    raw = stream(DELTA_USAGE)
    tap = AnthropicUsageTap()
    for i in range(0, len(raw), size):
        tap.feed(raw[i : i + size])
    tap.close()
    assert tap.finished and tap.has_usage and tap.stop_reason == "end_turn"
    assert tap.usage == EXPECTED
    assert tap.usage.cache_write_5m_tokens == 30_000


def test_tap_takes_a_split_message_delta_restates() -> None:
    delta = {**DELTA_USAGE, "cache_creation_input_tokens": 200_000}
    delta["cache_creation"] = {"ephemeral_5m_input_tokens": 20_000, "ephemeral_1h_input_tokens": 180_000}
    tap = AnthropicUsageTap()
    tap.feed(stream(delta))
    assert (tap.usage.cache_write_tokens, tap.usage.cache_write_1h_tokens) == (200_000, 180_000)


def test_tap_caps_the_1h_part_at_a_smaller_total() -> None:
    tap = AnthropicUsageTap()
    tap.feed(stream({**DELTA_USAGE, "cache_creation_input_tokens": 100_000}))
    assert (tap.usage.cache_write_tokens, tap.usage.cache_write_1h_tokens) == (100_000, 100_000)


def test_body_reader_fills_the_split() -> None:
    into = Usage()
    body_usage(body({**START_USAGE, "output_tokens": 95}), into)
    assert into == EXPECTED


def test_a_usage_without_cache_creation_is_all_5_minute_writes() -> None:
    into = Usage()
    body_usage(body({"input_tokens": 5, "output_tokens": 1, "cache_creation_input_tokens": 900}), into)
    assert into == Usage(input_tokens=5, output_tokens=1, cache_write_tokens=900)
    assert into.cache_write_5m_tokens == 900


def test_a_split_without_the_total_makes_the_total() -> None:
    usage = {
        "input_tokens": 3,
        "cache_creation": {"ephemeral_5m_input_tokens": 7, "ephemeral_1h_input_tokens": 11},
    }
    into = Usage()
    body_usage(body(usage), into)
    assert (into.cache_write_tokens, into.cache_write_1h_tokens) == (18, 11)
    assert (parse_usage(usage).cache_write_tokens, parse_usage(usage).cache_write_1h_tokens) == (18, 11)


@pytest.mark.parametrize(
    "split",
    [None, "x", {"ephemeral_1h_input_tokens": "9"}, {"ephemeral_1h_input_tokens": True}, {}],
)
def test_malformed_splits_count_no_1h_writes(split: object) -> None:
    usage = {"input_tokens": 1, "cache_creation_input_tokens": 50, "cache_creation": split}
    into = Usage()
    body_usage(body(usage), into)
    assert (into.cache_write_tokens, into.cache_write_1h_tokens) == (50, 0)
    assert parse_usage(usage) == Usage(input_tokens=1, cache_write_tokens=50)


# --- translated: buffered bodies and the stream decoder ----------------------------------------


def test_parse_usage_and_buffered_response_fill_the_split() -> None:
    assert parse_usage({**START_USAGE, "output_tokens": 95}) == EXPECTED
    resp = parse_anthropic_response(body({**START_USAGE, "output_tokens": 95}), model="claude-sonnet-4-5")
    assert resp.usage == EXPECTED


def test_stream_decoder_merges_message_start_and_message_delta() -> None:
    events = decode(stream(DELTA_USAGE))
    start = next(e for e in events if isinstance(e, MessageStart))
    delta = next(e for e in events if isinstance(e, MessageDelta))
    assert start.usage == Usage(
        input_tokens=12,
        output_tokens=1,
        cache_read_tokens=40_000,
        cache_write_tokens=180_000,
        cache_write_1h_tokens=150_000,
    )
    assert delta.usage == EXPECTED


def test_stream_decoder_takes_a_restated_split_and_keeps_it_through_output_only_deltas() -> None:
    restated = {
        "cache_creation_input_tokens": 200_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 20_000, "ephemeral_1h_input_tokens": 180_000},
        "output_tokens": 95,
    }
    delta = next(e for e in decode(stream(restated)) if isinstance(e, MessageDelta))
    assert (delta.usage.cache_write_tokens, delta.usage.cache_write_1h_tokens) == (200_000, 180_000)
    only_output = next(e for e in decode(stream({"output_tokens": 95})) if isinstance(e, MessageDelta))
    assert only_output.usage == EXPECTED


# --- back out to an Anthropic client ------------------------------------------------------------


def test_render_usage_states_the_split_only_with_1h_writes() -> None:
    assert render_usage(EXPECTED) == {
        "input_tokens": 12,
        "output_tokens": 95,
        "cache_creation_input_tokens": 180_000,
        "cache_read_input_tokens": 40_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 30_000, "ephemeral_1h_input_tokens": 150_000},
    }
    plain = Usage(input_tokens=1, output_tokens=2, cache_write_tokens=3)
    assert "cache_creation" not in render_usage(plain)


def test_a_rendered_stream_decodes_to_the_same_split() -> None:
    events = decode(stream(DELTA_USAGE))
    writer = SSEWriter()
    raw = b"".join(writer.render(e) for e in events)
    again = decode(raw)
    assert next(e for e in again if isinstance(e, MessageDelta)).usage == EXPECTED
    tap = AnthropicUsageTap()
    tap.feed(raw)
    assert tap.usage == EXPECTED
