"""Property tests: random IR requests survive IR → wire → IR for Anthropic and Chat Completions.

Anthropic: render_request then parse_request gives back an equal IR. Chat: build_chat_request then
parse_chat_request keeps every text, every tool call (name, arguments, sanitised id) and every
tool result, in order.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackbilt_gateway.daemon.core.ir import (
    GatewayRequest,
    Message,
    Part,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from stackbilt_gateway.daemon.core.providers import ProviderSpec, Quirks
from stackbilt_gateway.daemon.wires.anthropic.request import parse_request, render_request
from stackbilt_gateway.daemon.wires.chat.upstream import build_chat_request, parse_chat_request
from stackbilt_gateway.daemon.wires.toolids import sanitize_tool_id

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SPEC = ProviderSpec(
    "compat", "Compat", "chat", "http://x.invalid", "bearer", (), quirks=Quirks(stream_usage=True)
)

texts = st.text(min_size=1, max_size=30).filter(lambda s: bool(s.strip()))
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
arguments = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
valid_ids = st.from_regex(r"[a-zA-Z0-9_-]{1,24}", fullmatch=True)
any_ids = valid_ids | st.text(min_size=1, max_size=70)


@st.composite
def conversations(draw: st.DrawFn, ids: st.SearchStrategy[str]) -> GatewayRequest:
    messages: list[Message] = []
    used: set[str] = set()
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            messages.append(Message("system", [TextPart(draw(texts))]))
        messages.append(Message("user", [TextPart(t) for t in draw(st.lists(texts, min_size=1, max_size=2))]))
        parts: list[Part] = [TextPart(t) for t in draw(st.lists(texts, max_size=2))]
        call_ids = draw(st.lists(ids.filter(lambda i: i not in used), max_size=3, unique=True))
        used.update(call_ids)
        if not parts and not call_ids:
            parts.append(TextPart(draw(texts)))
        parts += [
            ToolCallPart(cid, draw(st.from_regex(r"[a-zA-Z_]{1,12}", fullmatch=True)), draw(arguments))
            for cid in call_ids
        ]
        messages.append(Message("assistant", parts))
        if call_ids:
            results: list[Part] = [
                ToolResultPart(
                    cid,
                    [TextPart(t) for t in draw(st.lists(texts, max_size=2))],
                    is_error=draw(st.booleans()),
                )
                for cid in call_ids
            ]
            results += [TextPart(t) for t in draw(st.lists(texts, max_size=1))]
            messages.append(Message("user", results))
    return GatewayRequest(
        protocol="anthropic",
        model=draw(st.sampled_from(["claude-opus-5-5", "m"])),
        messages=messages,
        system=[TextPart(t) for t in draw(st.lists(texts, max_size=2))],
        max_tokens=draw(st.integers(1, 200_000)),
        stream=draw(st.booleans()),
        temperature=draw(st.none() | st.floats(0, 1)),
        stop=draw(st.lists(texts, max_size=2)),
    )


@SETTINGS
@given(conversations(valid_ids))
def test_anthropic_render_then_parse_is_identity(req: GatewayRequest) -> None:
    assert parse_request(render_request(req)) == req


def _texts(req: GatewayRequest) -> list[str]:
    out = [p.text for p in req.system]
    for msg in req.messages:
        out += [p.text for p in msg.parts if isinstance(p, TextPart)]
    return out


def _calls(req: GatewayRequest) -> list[tuple[str, str, dict[str, Any]]]:
    return [(p.id, p.name, p.arguments) for m in req.messages for p in m.parts if isinstance(p, ToolCallPart)]


def _results(req: GatewayRequest) -> list[tuple[str, str]]:
    out = []
    for msg in req.messages:
        for p in msg.parts:
            if isinstance(p, ToolResultPart):
                text = "".join(c.text for c in p.content if isinstance(c, TextPart))
                out.append((p.call_id, text))
    return out


@SETTINGS
@given(conversations(any_ids))
def test_chat_build_then_parse_preserves_texts_calls_results(req: GatewayRequest) -> None:
    back = parse_chat_request(build_chat_request(req, model="upstream-model", spec=SPEC))
    assert back.model == "upstream-model" and back.max_tokens == req.max_tokens and back.stream == req.stream
    assert "\n\n".join(_texts(back)) == "\n\n".join(_texts(req))
    assert _calls(back) == [(sanitize_tool_id(i), n, a) for i, n, a in _calls(req)]
    expected_results = [
        (
            sanitize_tool_id(p.call_id),
            ("Error: " if p.is_error else "")
            + "\n".join(c.text for c in p.content if isinstance(c, TextPart)),
        )
        for m in req.messages
        for p in m.parts
        if isinstance(p, ToolResultPart)
    ]
    assert _results(back) == expected_results
    assert back.stop == req.stop and back.temperature == req.temperature


@SETTINGS
@given(any_ids)
def test_sanitize_tool_id_is_valid_idempotent_and_injective_enough(raw: str) -> None:
    clean = sanitize_tool_id(raw)
    assert 1 <= len(clean) <= 64 and all(c.isascii() and (c.isalnum() or c in "_-") for c in clean)
    assert sanitize_tool_id(clean) == clean
    if raw != clean:
        assert sanitize_tool_id(raw + "x") != clean
