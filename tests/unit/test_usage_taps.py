"""Usage taps on pass-through streams: split chunks, terminal events, errors, garbage."""

from __future__ import annotations

import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from stackbilt_gateway.daemon.core.ir import Usage
from stackbilt_gateway.daemon.wires.chat.usage import ChatUsageTap, usage_from_chat
from stackbilt_gateway.daemon.wires.responses.usage import ResponsesUsageTap, usage_from_responses

R_USAGE = {
    "input_tokens": 1000,
    "input_tokens_details": {"cached_tokens": 600, "cache_write_tokens": 100},
    "output_tokens": 50,
    "output_tokens_details": {"reasoning_tokens": 20},
    "total_tokens": 1050,
}
R_IR = Usage(
    input_tokens=300, output_tokens=50, cache_read_tokens=600, cache_write_tokens=100, reasoning_tokens=20
)


def r_event(kind: str, **payload: object) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n".encode()


RESPONSES_STREAM = (
    r_event("response.created", response={"id": "resp_1", "status": "in_progress", "usage": None})
    + b": keep-alive comment\n\n"
    + r_event("response.output_text.delta", delta="hé")
    + r_event("response.completed", response={"id": "resp_1", "status": "completed", "usage": R_USAGE})
)
CHAT_STREAM = (
    b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}\r\n\r\n'
    b'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}\n\n'
    b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":100,"completion_tokens":7,"total_tokens":107,'
    b'"prompt_tokens_details":{"cached_tokens":40},"completion_tokens_details":{"reasoning_tokens":2}}}\n\n'
    b"data: [DONE]\n\n"
)
C_IR = Usage(input_tokens=60, output_tokens=7, cache_read_tokens=40, reasoning_tokens=2)


def test_body_readers() -> None:
    assert usage_from_responses(R_USAGE) == R_IR
    assert usage_from_responses({"input_tokens": 5, "output_tokens": 1}) == Usage(
        input_tokens=5, output_tokens=1
    )
    assert usage_from_responses(None) == Usage() and usage_from_responses({"input_tokens": "x"}) == Usage()
    assert usage_from_chat(
        {"prompt_tokens": 100, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 40}}
    ) == Usage(60, 7, 40)
    assert usage_from_chat("nope") == Usage()


def test_responses_tap_whole_stream() -> None:
    tap = ResponsesUsageTap()
    tap.feed(RESPONSES_STREAM)
    assert (tap.usage, tap.finished, tap.error, tap.has_usage) == (R_IR, True, None, True)


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(0, len(RESPONSES_STREAM)), max_size=12))
def test_responses_tap_any_split(cuts: list[int]) -> None:
    tap = ResponsesUsageTap()
    points = [0, *sorted(cuts), len(RESPONSES_STREAM)]
    for a, b in itertools.pairwise(points):
        tap.feed(RESPONSES_STREAM[a:b])
    assert (tap.usage, tap.finished) == (R_IR, True)


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(0, len(CHAT_STREAM)), max_size=12))
def test_chat_tap_any_split(cuts: list[int]) -> None:
    tap = ChatUsageTap()
    points = [0, *sorted(cuts), len(CHAT_STREAM)]
    for a, b in itertools.pairwise(points):
        tap.feed(CHAT_STREAM[a:b])
    assert (tap.usage, tap.finished, tap.error) == (C_IR, True, None)


def test_responses_tap_failed_incomplete_and_error_events() -> None:
    tap = ResponsesUsageTap()
    failed = {
        "status": "failed",
        "error": {"code": "rate_limit_exceeded", "message": "try again in 2s"},
        "usage": None,
    }
    tap.feed(r_event("response.failed", response=failed))
    assert (tap.finished, tap.error, tap.has_usage) == (True, "try again in 2s", False)
    tap = ResponsesUsageTap()
    tap.feed(r_event("response.incomplete", response={"status": "incomplete", "usage": R_USAGE}))
    assert (tap.finished, tap.error, tap.usage) == (True, None, R_IR)
    tap = ResponsesUsageTap()
    tap.feed(r_event("error", code="server_error", message="boom"))
    assert (tap.finished, tap.error) == (True, "boom")


def test_unterminated_streams_are_not_finished() -> None:
    tap = ResponsesUsageTap()
    tap.feed(RESPONSES_STREAM[: RESPONSES_STREAM.index(b"event: response.completed")])
    tap.close()
    assert (tap.finished, tap.usage) == (False, Usage())
    chat = ChatUsageTap()
    chat.feed(CHAT_STREAM[: CHAT_STREAM.index(b"data: [DONE]")])
    assert chat.finished is False and chat.usage == C_IR


def test_last_event_without_blank_line_counts_after_close() -> None:
    tap = ChatUsageTap()
    tap.feed(b"data: [DONE]")
    assert tap.finished is False
    tap.close()
    assert tap.finished is True


def test_chat_tap_error_payload() -> None:
    tap = ChatUsageTap()
    tap.feed(b'data: {"error":{"message":"Provider returned error","code":502}}\n\n')
    assert tap.error == "Provider returned error" and not tap.finished
    tap = ChatUsageTap()
    tap.feed(b'data: {"error":{"code":429}}\n\n')
    assert tap.error == "429"


@settings(max_examples=60, deadline=None)
@given(junk=st.binary(max_size=300))
def test_garbage_never_raises(junk: bytes) -> None:
    for tap in (ResponsesUsageTap(), ChatUsageTap()):
        tap.feed(junk)
        tap.feed(
            b"data: {not json}\n\ndata: [1,2]\n\n"
            b'data: {"usage": 5, "type": "response.completed", "response": 3}\n\n'
        )
        tap.close()
        assert isinstance(tap.usage, Usage)


def test_oversized_line_stops_observing_without_raising() -> None:
    tap = ChatUsageTap()
    tap._scanner.max_event_bytes = 10  # a hostile peer sending one endless event
    tap.feed(b"data: " + b"x" * 100)
    tap.feed(CHAT_STREAM)
    tap.close()
    assert tap.finished is False and tap.usage == Usage()
