"""``history_facts`` walks a request once; it must agree with the per-part definitions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stackbilt_gateway.daemon.core.ir import (
    DocumentPart,
    GatewayRequest,
    ImagePart,
    Message,
    OpaquePart,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from stackbilt_gateway.daemon.core.tokens import CHARS_PER_TOKEN
from stackbilt_gateway.daemon.routing.classify import classify
from stackbilt_gateway.daemon.routing.signals import (
    carries_tools,
    estimate_tokens,
    has_images,
    history_facts,
    part_chars,
)

texts = st.text(max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
images = st.builds(ImagePart, media_type=st.just("image/png"), data=st.text(max_size=20))
documents = st.builds(DocumentPart, media_type=st.sampled_from(["application/pdf", "text/plain"]), data=texts)
inner_parts: st.SearchStrategy[TextPart | ImagePart | DocumentPart] = st.one_of(
    st.builds(TextPart, texts), images, documents
)
parts: st.SearchStrategy[Part] = st.one_of(
    st.builds(TextPart, texts),
    images,
    documents,
    st.builds(
        ToolCallPart,
        id=st.just("c1"),
        name=st.text(max_size=10),
        arguments=st.dictionaries(st.text(max_size=5), json_values, max_size=3),
    ),
    st.builds(ToolResultPart, call_id=st.just("c1"), content=st.lists(inner_parts, max_size=3)),
    st.builds(ReasoningPart, text=texts, redacted=st.none() | texts),
    st.builds(
        OpaquePart, protocol=st.just("anthropic"), data=st.dictionaries(st.text(max_size=5), json_values)
    ),
)
requests = st.builds(
    GatewayRequest,
    protocol=st.just("anthropic"),
    model=st.just("claude-opus-5-5"),
    messages=st.lists(
        st.builds(Message, role=st.sampled_from(["user", "assistant"]), parts=st.lists(parts, max_size=4)),
        max_size=5,
    ),
    system=st.lists(st.builds(TextPart, texts), max_size=2),
    tools=st.lists(st.builds(ToolSpec, name=st.text(min_size=1, max_size=8), description=texts), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(requests)
def test_one_walk_agrees_with_the_per_part_definitions(req: GatewayRequest) -> None:
    facts = history_facts(req)
    size = sum(len(t.text) for t in req.system)
    size += sum(8 + sum(part_chars(p) for p in m.parts) for m in req.messages)
    without_tools = history_facts(GatewayRequest(req.protocol, req.model, req.messages, system=req.system))
    assert without_tools.chars == size
    assert facts.chars >= size + sum(len(t.name) for t in req.tools)
    assert facts.est_tokens == estimate_tokens(req) == -(-facts.chars // CHARS_PER_TOKEN)
    assert facts.images == has_images(req)
    traffic = any(isinstance(p, ToolCallPart | ToolResultPart) for m in req.messages for p in m.parts)
    assert facts.tool_traffic == traffic
    assert (bool(req.tools) or facts.tool_traffic) == carries_tools(req)
    signals = classify(req).signals
    assert signals["est_tokens"] == facts.est_tokens
    assert signals["has_images"] == has_images(req)
    assert signals["carries_tools"] == carries_tools(req)
