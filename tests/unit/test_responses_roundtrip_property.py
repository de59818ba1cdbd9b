"""Property: IR conversations rendered as Responses input items parse back to the same IR.

Covers texts, function calls (arguments as JSON strings), custom tool calls (the freeform
``input`` string, byte for byte) and tool outputs (string or ``input_text`` parts).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stackbilt_gateway.daemon.core.ir import Message, Part, TextPart, ToolCallPart, ToolResultPart
from stackbilt_gateway.daemon.wires.responses.request import parse_responses_request

texts = st.text(min_size=1, max_size=40)
scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=12)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
arguments = st.dictionaries(st.text(max_size=8), values, max_size=4)
call_ids = st.text(min_size=1, max_size=30)


@st.composite
def conversations(draw: st.DrawFn) -> list[Message]:
    messages: list[Message] = []
    used: set[str] = set()
    for _ in range(draw(st.integers(1, 3))):
        messages.append(Message("user", [TextPart(t) for t in draw(st.lists(texts, min_size=1, max_size=2))]))
        parts: list[Part] = [TextPart(t) for t in draw(st.lists(texts, max_size=2))]
        ids = draw(st.lists(call_ids.filter(lambda i: i not in used), max_size=3, unique=True))
        used.update(ids)
        for call_id in ids:
            if draw(st.booleans()):
                parts.append(ToolCallPart(call_id, "apply_patch", {"input": draw(st.text(max_size=60))}))
            else:
                parts.append(ToolCallPart(call_id, draw(st.sampled_from(["exec", "read"])), draw(arguments)))
        if not parts:
            parts.append(TextPart(draw(texts)))
        messages.append(Message("assistant", parts))
        if ids:
            results: list[Part] = [
                ToolResultPart(i, [TextPart(t) for t in draw(st.lists(texts, max_size=2))]) for i in ids
            ]
            messages.append(Message("user", results))
    return messages


def to_items(messages: list[Message], use_parts: bool) -> list[dict[str, Any]]:
    """A test-only IR → Responses input renderer (the inverse the parser must honour)."""
    items: list[dict[str, Any]] = []
    for msg in messages:
        texts_ = [p.text for p in msg.parts if isinstance(p, TextPart)]
        if msg.role == "user" and texts_:
            items.append(
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": t} for t in texts_],
                }
            )
        if msg.role == "assistant" and texts_:
            content = [{"type": "output_text", "text": t, "annotations": []} for t in texts_]
            items.append({"type": "message", "role": "assistant", "content": content})
        for p in msg.parts:
            if isinstance(p, ToolCallPart) and p.name == "apply_patch":
                items.append(
                    {
                        "type": "custom_tool_call",
                        "call_id": p.id,
                        "name": p.name,
                        "input": p.arguments["input"],
                    }
                )
            elif isinstance(p, ToolCallPart):
                items.append(
                    {
                        "type": "function_call",
                        "call_id": p.id,
                        "name": p.name,
                        "arguments": json.dumps(p.arguments),
                    }
                )
            elif isinstance(p, ToolResultPart):
                parts_text = [c.text for c in p.content if isinstance(c, TextPart)]
                kind = "custom_tool_call_output" if use_parts else "function_call_output"
                if use_parts:
                    output: Any = [{"type": "input_text", "text": t} for t in parts_text]
                else:
                    output = "".join(parts_text)
                items.append({"type": kind, "call_id": p.call_id, "output": output})
    return items


def _joined(messages: list[Message]) -> list[Message]:
    """String outputs join a result's texts into one part (what the wire can say)."""
    out = []
    for msg in messages:
        parts: list[Part] = []
        for p in msg.parts:
            if isinstance(p, ToolResultPart):
                text = "".join(c.text for c in p.content if isinstance(c, TextPart))
                parts.append(ToolResultPart(p.call_id, [TextPart(text)] if text else []))
            else:
                parts.append(p)
        out.append(Message(msg.role, parts))
    return out


@settings(max_examples=60, deadline=None)
@given(messages=conversations(), use_parts=st.booleans())
def test_responses_items_round_trip(messages: list[Message], use_parts: bool) -> None:
    body = {
        "model": "gpt-5.5",
        "input": to_items(messages, use_parts),
        "tools": [
            {"type": "custom", "name": "apply_patch"},
            {"type": "function", "name": "exec", "parameters": {}},
            {"type": "function", "name": "read", "parameters": {}},
        ],
    }
    req = parse_responses_request(json.loads(json.dumps(body)))
    assert req.messages == (messages if use_parts else _joined(messages))
