"""The plain-text fast path of the Chat stream decoder changes nothing but speed."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from stackbilt_gateway.daemon.core.ir import StreamEvent
from stackbilt_gateway.daemon.wires.chat.upstream_stream import ChatStreamDecoder

texts = st.sampled_from(["", " ", "\n", "hi", " there", "é🎉"])
nullish = st.none() | st.just("") | st.just([]) | st.just(0)
deltas = st.fixed_dictionaries(
    {},
    optional={
        "role": st.just("assistant"),
        "content": texts | nullish,
        "reasoning_content": texts | nullish,
        "reasoning": texts | nullish,
        "tool_calls": nullish
        | st.lists(
            st.fixed_dictionaries(
                {"index": st.integers(0, 1)},
                optional={"id": st.just("call_1"), "function": st.just({"name": "f", "arguments": "{}"})},
            ),
            max_size=1,
        ),
    },
)
choices = st.fixed_dictionaries(
    {"delta": deltas | nullish},
    optional={"index": st.sampled_from([0, 1, None]), "finish_reason": st.sampled_from([None, "stop"])},
)
chunks = st.fixed_dictionaries(
    {"choices": st.lists(choices, max_size=2) | nullish},
    optional={
        "usage": st.none() | st.just({"prompt_tokens": 3, "completion_tokens": 2}),
        "error": st.none() | st.just(""),
    },
)


def _events(payloads: list[dict[str, Any]], fast: bool) -> list[list[StreamEvent]]:
    decoder = ChatStreamDecoder("m", message_id="msg_1", provider="groq")
    if not fast:
        decoder._plain_text = lambda payload: None  # type: ignore[method-assign]
    return [decoder.start(), *(decoder.feed(p) for p in payloads), decoder.finish()]


TEXT = {"choices": [{"index": 0, "delta": {"content": "hi"}}]}
CALL = {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": "{}"}}


@settings(max_examples=400, deadline=None)
@given(st.lists(chunks, max_size=8))
@example([TEXT, {"choices": [{"index": 0, "delta": {"content": " x", "tool_calls": [CALL]}}]}])
@example([TEXT, {"choices": [{"delta": {"content": " x", "reasoning_content": "r"}}]}])
@example([TEXT, {"choices": [{"delta": {"content": " x"}}], "usage": {"prompt_tokens": 1}}])
@example([TEXT, {"choices": [{"index": 1, "delta": {"content": " x"}}]}])
def test_fast_path_and_general_path_emit_the_same_events(payloads: list[dict[str, Any]]) -> None:
    assert _events(payloads, fast=True) == _events(payloads, fast=False)


def test_the_fast_path_serves_a_plain_text_stream() -> None:
    decoder = ChatStreamDecoder("m", message_id="msg_1", provider="groq")
    decoder.start()
    decoder.feed({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hello"}}]})
    calls = []
    plain = decoder._plain_text
    decoder._plain_text = lambda payload: calls.append(payload) or plain(payload)  # type: ignore[method-assign]
    events = decoder.feed({"choices": [{"index": 0, "delta": {"content": " world"}, "finish_reason": None}]})
    assert len(calls) == 1 and [type(e).__name__ for e in events] == ["TextDelta"]
    assert plain({"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop"}]}) is None
