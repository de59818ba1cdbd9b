"""Property: translated IR → build_anthropic_request → parse_request keeps the conversation.

Texts (non-blank), tool calls (sanitised ids, names, arguments) and tool results survive in order;
system/developer texts end up in ``system``; no synthetic results appear for a well-formed history.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from stackbilt_gateway.daemon.core.ir import (
    GatewayRequest,
    Message,
    Part,
    Protocol,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from stackbilt_gateway.daemon.wires.anthropic.request import parse_request
from stackbilt_gateway.daemon.wires.anthropic.upstream import build_anthropic_request
from stackbilt_gateway.daemon.wires.toolids import sanitize_tool_id

texts = st.text(min_size=1, max_size=30).filter(lambda s: bool(s.strip()))
scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10)
arguments = st.dictionaries(st.text(max_size=8), scalars | st.lists(scalars, max_size=3), max_size=4)
any_ids = st.from_regex(r"[a-zA-Z0-9_-]{1,24}", fullmatch=True) | st.text(min_size=1, max_size=70)


@st.composite
def requests(draw: st.DrawFn) -> GatewayRequest:
    messages: list[Message] = []
    used: set[str] = set()
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            messages.append(Message("system", [TextPart(draw(texts))]))
        messages.append(Message("user", [TextPart(t) for t in draw(st.lists(texts, min_size=1, max_size=2))]))
        parts: list[Part] = [TextPart(t) for t in draw(st.lists(texts, max_size=2))]
        ids = draw(
            st.lists(
                any_ids.filter(lambda i: sanitize_tool_id(i) not in used),
                max_size=3,
                unique_by=sanitize_tool_id,
            )
        )
        used.update(sanitize_tool_id(i) for i in ids)
        parts += [
            ToolCallPart(i, draw(st.sampled_from(["exec", "apply_patch"])), draw(arguments)) for i in ids
        ]
        if not parts:
            parts.append(TextPart(draw(texts)))
        messages.append(Message("assistant", parts))
        if ids:
            results: list[Part] = [ToolResultPart(i, [TextPart(draw(texts))]) for i in ids]
            messages.append(Message("user", results))
    protocol: Protocol = draw(st.sampled_from(["responses", "chat"]))
    tools = [ToolSpec("exec"), ToolSpec("apply_patch", kind="custom")]
    return GatewayRequest(protocol=protocol, model="gpt-5.5", messages=messages, tools=tools)


def flat(messages: list[Message]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for msg in messages:
        for p in msg.parts:
            if isinstance(p, TextPart) and msg.role != "system":
                out.append((msg.role, "text", p.text))
            elif isinstance(p, ToolCallPart):
                out.append(("assistant", "call", sanitize_tool_id(p.id), p.name, p.arguments))
            elif isinstance(p, ToolResultPart):
                content = [c.text for c in p.content if isinstance(c, TextPart)]
                out.append(("user", "result", sanitize_tool_id(p.call_id), content, p.is_error))
    return out


@settings(max_examples=60, deadline=None)
@given(req=requests())
def test_translated_requests_survive_the_anthropic_round_trip(req: GatewayRequest) -> None:
    body = build_anthropic_request(req, model="claude-sonnet-4-6")
    back = parse_request(body)
    assert flat(back.messages) == flat(req.messages)
    system_texts = [
        p.text for m in req.messages if m.role == "system" for p in m.parts if isinstance(p, TextPart)
    ]
    assert [p.text for p in back.system] == system_texts
    roles = [m.role for m in back.messages]
    assert all(a != b for a, b in itertools.pairwise(roles))  # strictly alternating
    assert roles[0] == "user"
