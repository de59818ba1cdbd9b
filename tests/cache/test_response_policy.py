"""What the response cache may answer (``cache.policy``): a property test over generated requests."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from stackbilt_gateway.daemon.cache.policy import cache_key, decide
from stackbilt_gateway.daemon.core.ir import (
    GatewayRequest,
    Message,
    TextPart,
    ThinkingConfig,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)

SAFE_WORDS = [
    "summarize",
    "the",
    "module",
    "recap",
    "explain",
    "notes",
    "title",
    "for",
    "this",
    "session",
    "why",
]
MUTATIONS = ["write", "Edit", "apply", "delete", "rm", "patch", "remove", "rename", "overwrite", "wrote"]
SECRETS = ["sk-ant-api03-abcdefghijklmnop", "ghp_" + "a1" * 12, "password=hunter22", "AKIAIOSFODNN7EXAMPLE"]

_text = st.lists(st.sampled_from(SAFE_WORDS), min_size=1, max_size=12).map(" ".join)


@st.composite
def safe_requests(draw: st.DrawFn) -> GatewayRequest:
    turns = draw(st.lists(_text, min_size=1, max_size=4))
    messages = [Message("user" if i % 2 == 0 else "assistant", [TextPart(t)]) for i, t in enumerate(turns)]
    return GatewayRequest(
        protocol=draw(st.sampled_from(["anthropic", "chat", "responses"])),
        model=draw(st.sampled_from(["claude-opus-5-5", "gpt-5.4-mini"])),
        messages=messages,
        system=[TextPart(draw(_text))] if draw(st.booleans()) else [],
        max_tokens=draw(st.integers(1, 4_000)),
        temperature=0,
        stream=draw(st.booleans()),
    )


def _insert(req: GatewayRequest, word: str, where: int) -> GatewayRequest:
    messages = list(req.messages)
    i = where % len(messages)
    text = messages[i].parts[0]
    assert isinstance(text, TextPart)
    messages[i] = Message(messages[i].role, [TextPart(f"{text.text} {word} it")])
    return dataclasses.replace(req, messages=messages)


@st.composite
def unsafe_requests(draw: st.DrawFn) -> tuple[GatewayRequest, str]:
    req = draw(safe_requests())
    kind = draw(
        st.sampled_from(
            ["tools", "tool_call", "tool_result", "mutation", "secret", "temperature", "thinking"]
        )
    )
    if kind == "tools":
        return dataclasses.replace(req, tools=[ToolSpec("Bash")]), "tools"
    if kind == "tool_call":
        call = Message("assistant", [ToolCallPart("t1", "Read", {"file_path": "a.py"})])
        return dataclasses.replace(req, messages=[*req.messages, call]), "tool_traffic"
    if kind == "tool_result":
        result = Message("user", [ToolResultPart("t1", [TextPart("contents")])])
        return dataclasses.replace(req, messages=[*req.messages, result]), "tool_traffic"
    if kind == "mutation":
        return _insert(req, draw(st.sampled_from(MUTATIONS)), draw(st.integers(0, 9))), "mutation_intent"
    if kind == "secret":
        return _insert(req, draw(st.sampled_from(SECRETS)), draw(st.integers(0, 9))), "secrets"
    if kind == "thinking":
        return dataclasses.replace(req, thinking=ThinkingConfig(budget_tokens=2_000)), "thinking"
    temperature = draw(st.one_of(st.none(), st.floats(0.01, 2.0)))
    return dataclasses.replace(req, temperature=temperature), "temperature"


@settings(max_examples=400, deadline=None)
@given(unsafe_requests(), st.sampled_from(["summary", "background"]))
def test_unsafe_requests_are_never_cacheable(case: tuple[GatewayRequest, str], route_class: str) -> None:
    req, reason = case
    assert decide(req, route_class, "keyword_summary") == (None, reason)


@settings(max_examples=200, deadline=None)
@given(safe_requests())
def test_safe_requests_are_cacheable_only_in_read_only_classes(req: GatewayRequest) -> None:
    key, reason = decide(req, "summary", "keyword_summary")
    assert reason == "eligible" and key == cache_key(req)
    for route_class in ("tool_loop", "code_draft", "cheap_edit", "fallback_safe", "deep_reasoning", None):
        assert decide(req, route_class, "default") == (None, "route_class")
    assert decide(req, "background", "quota_probe") == (None, "quota_probe")
    stateful = dataclasses.replace(req, extra={"previous_response_id": "resp_1"})
    assert decide(stateful, "summary") == (None, "server_state")


@settings(max_examples=200, deadline=None)
@given(safe_requests(), _text)
def test_the_key_ignores_transport_details_but_not_content(req: GatewayRequest, other: str) -> None:
    key = cache_key(req)
    same = dataclasses.replace(
        req,
        stream=not req.stream,
        user="someone",
        extra={"metadata": {"user_id": "u"}, "prompt_cache_key": "k", "stream_options": {}},
        messages=[
            Message(
                m.role, [TextPart(p.text, {"type": "ephemeral"}) for p in m.parts if isinstance(p, TextPart)]
            )
            for m in req.messages
        ],
    )
    assert cache_key(same) == key
    assert cache_key(dataclasses.replace(req, model=req.model + "-x")) != key
    assert cache_key(dataclasses.replace(req, max_tokens=(req.max_tokens or 0) + 1)) != key
    changed = [*req.messages, Message("user", [TextPart(other)])]
    assert cache_key(dataclasses.replace(req, messages=changed)) != key
