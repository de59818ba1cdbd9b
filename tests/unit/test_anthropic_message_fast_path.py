"""The one-pass message parser agrees with the checked one on every message, good or bad."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackbilt_gateway.daemon.core.errors import InvalidRequest
from stackbilt_gateway.daemon.core.ir import Message
from stackbilt_gateway.daemon.wires.anthropic import request as anthropic_request
from stackbilt_gateway.daemon.wires.anthropic.request import _parse_message, _parse_message_checked

odd = st.none() | st.integers(-3, 3) | st.booleans() | st.lists(st.integers(), max_size=1)
strings = st.text(max_size=6)
cache = st.none() | st.just({"type": "ephemeral"}) | odd


def block(kind: str, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A block of ``kind`` whose fields are sometimes missing or of the wrong type."""
    return st.fixed_dictionaries(
        {"type": st.just(kind)}, optional={"cache_control": cache, **{k: v | odd for k, v in fields.items()}}
    )


blocks = st.one_of(
    block("text", text=strings),
    block("tool_use", id=strings, name=strings, input=st.dictionaries(strings, strings, max_size=2)),
    block(
        "tool_result",
        tool_use_id=strings,
        content=strings | st.lists(block("text", text=strings), max_size=2),
        is_error=st.booleans(),
    ),
    block("thinking", thinking=strings, signature=strings),
    block(
        "image",
        source=st.fixed_dictionaries({"type": st.just("base64"), "media_type": strings, "data": strings}),
    ),
    block("server_tool_use", id=strings, name=strings),
    odd,
    st.text(max_size=3),
)
messages = (
    st.fixed_dictionaries(
        {},
        optional={
            "role": st.sampled_from(["user", "assistant", "system", "tool"]) | odd,
            "content": st.lists(blocks, max_size=4) | strings | odd,
        },
    )
    | odd
)


def _outcome(parse: Any, raw: object) -> object:
    try:
        return parse(raw, 3)
    except InvalidRequest as exc:
        return ("invalid", str(exc), exc.param)


@settings(max_examples=500, deadline=None)
@given(messages)
def test_fast_and_checked_message_parsing_agree(raw: object) -> None:
    assert _outcome(_parse_message, raw) == _outcome(_parse_message_checked, raw)


def test_the_fast_path_takes_well_formed_agent_messages_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def checked(raw: object, i: int) -> Message:
        raise LookupError("checked path")

    monkeypatch.setattr(anthropic_request, "_parse_message_checked", checked)
    good = {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}},
        ],
    }
    assert [type(p).__name__ for p in _parse_message(good, 0).parts] == ["TextPart", "ToolCallPart"]
    for bad in (
        {"role": "assistant", "content": [{"type": "text", "text": 1}]},
        {"role": "system", "content": [{"type": "text", "text": "s"}]},
        {"role": "user", "content": "plain string"},
    ):
        with pytest.raises(LookupError):
            _parse_message(bad, 0)
