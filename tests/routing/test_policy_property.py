"""Property: whatever the request, registry and route table, ``plan`` never serves a tool-carrying
turn on a model not safe for the client, nor anything on a model whose window is too small —
except the requested/pinned model itself."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackbilt_gateway.daemon.core.ir import (
    GatewayRequest,
    ImagePart,
    Message,
    TextPart,
    ThinkingConfig,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from stackbilt_gateway.daemon.core.route_classes import REQUESTED, ROUTE_CLASSES, RouteClass
from stackbilt_gateway.daemon.routing.classify import classify
from stackbilt_gateway.daemon.routing.policy import CLAMP_SAFE, MIN_CONFIDENCE, Requested, plan
from stackbilt_gateway.daemon.routing.registry import ModelInfo, Registry, Safety, split_key
from stackbilt_gateway.daemon.routing.signals import carries_tools, estimate_tokens, has_images

PROVIDERS = ("anthropic", "groq", "cerebras", "openai")
MODELS = tuple(f"{p}/m{i}" for p in PROVIDERS for i in range(3))
WORDS = ("summarize", "rename", "implement", "plan", "regex", "architecture", "hello", "x" * 2000)
safety: st.SearchStrategy[Safety] = st.sampled_from([True, False, "experimental"])


@st.composite
def model_infos(draw: st.DrawFn, key: str) -> ModelInfo:
    provider, model = split_key(key)
    return ModelInfo(
        provider,
        model,
        context_window=draw(st.one_of(st.none(), st.integers(500, 300_000))),
        max_output=draw(st.one_of(st.none(), st.integers(100, 200_000))),
        tools=draw(st.booleans()),
        vision=draw(st.booleans()),
        thinking=draw(st.booleans()),
        claude_code_safe=draw(safety),
        codex_safe=draw(safety),
    )


@st.composite
def registries(draw: st.DrawFn) -> Registry:
    chosen = draw(st.lists(st.sampled_from(MODELS), unique=True))
    return Registry(models={k: draw(model_infos(k)) for k in chosen})


@st.composite
def requests(draw: st.DrawFn) -> GatewayRequest:
    text = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4)))
    filler = "y" * draw(st.integers(0, 600_000))
    messages = [Message("user", [TextPart(filler + text)])]
    if draw(st.booleans()):  # a tool call / result somewhere
        messages += [
            Message("assistant", [ToolCallPart("c1", "Bash", {"command": "ls"})]),
            Message("user", [ToolResultPart("c1", [TextPart("out")])]),
        ]
        if draw(st.booleans()):
            messages += [Message("assistant", [TextPart("ok")]), Message("user", [TextPart(text)])]
    if draw(st.booleans()):
        messages[-1].parts.append(ImagePart(media_type="image/png", data="AAAA"))
    tools = [ToolSpec("Bash")] if draw(st.booleans()) else []
    thinking = (
        ThinkingConfig(effort=draw(st.sampled_from(["low", "medium", "high"])))
        if draw(st.booleans())
        else None
    )
    return GatewayRequest(
        protocol="anthropic",
        model="m",
        messages=messages,
        tools=tools,
        thinking=thinking,
        max_tokens=draw(st.one_of(st.none(), st.integers(1, 200_000))),
    )


route_tables = st.dictionaries(
    st.sampled_from(ROUTE_CLASSES),
    st.lists(st.sampled_from((*MODELS, "requested", "groq/unknown")), max_size=5),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    req=requests(),
    registry=registries(),
    table=route_tables,
    requested_key=st.sampled_from(MODELS),
    pinned=st.booleans(),
    mode=st.sampled_from(["shadow", "live"]),
    client=st.sampled_from(["claude-code", "codex", "sdk", "unknown"]),
    allow_experimental=st.booleans(),
    sticky=st.one_of(st.none(), st.sampled_from(PROVIDERS)),
    healthy=st.sets(st.sampled_from(PROVIDERS)),
    shadow_fallback=st.booleans(),
)
def test_plan_never_picks_an_unsafe_or_too_small_target(
    req: GatewayRequest,
    registry: Registry,
    table: dict[RouteClass, list[str]],
    requested_key: str,
    pinned: bool,
    mode: str,
    client: str,
    allow_experimental: bool,
    sticky: str | None,
    healthy: set[str],
    shadow_fallback: bool,
) -> None:
    requested = Requested(*split_key(requested_key), pinned=pinned)
    decision = classify(req, client=client)
    result = plan(
        req,
        decision,
        requested,
        mode=mode,  # type: ignore[arg-type]
        route_table=table,
        registry=registry,
        health=lambda p: p in healthy,
        sticky=sticky,
        client=client,
        allow_experimental=allow_experimental,
        configured=lambda p: True,
        shadow_fallback=shadow_fallback,
    )
    est = estimate_tokens(req)
    assert result.serve, "there is always something to serve"
    if mode == "shadow" or pinned:
        assert result.serve[0].key == requested.key
    else:
        # The requested model is always served in live mode: last (the last resort), unless the
        # route table names it itself, which gives it the table's place.
        assert requested.key in [c.key for c in result.serve]
        route_class = decision.route_class
        if decision.confidence < MIN_CONFIDENCE:
            route_class = "fallback_safe"
        entries = table.get(route_class, [REQUESTED])
        if REQUESTED not in entries and requested.key not in entries:
            assert result.serve[-1].key == requested.key
    for cand in [*result.serve, *([result.would_route] if result.would_route else [])]:
        if cand.key == requested.key:
            continue
        info = registry.get(cand.provider, cand.model)
        assert info is not None, "unknown models are never a target"
        assert cand.provider in healthy
        if carries_tools(req):
            assert Registry.safe_for(info, client, allow_experimental=allow_experimental), cand
        if has_images(req):
            assert info.vision
        max_tokens = cand.max_tokens if cand.max_tokens is not None else req.max_tokens
        if cand.max_tokens is not None:
            assert decision.route_class in CLAMP_SAFE and cand.max_tokens <= (req.max_tokens or 0)
        assert Registry.fits(info, est, max_tokens), (cand, info, est)
