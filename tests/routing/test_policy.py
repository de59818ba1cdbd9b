"""The routing policy: shadow/live, validity rules, stickiness, pins, clamps."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import pytest

from stackbilt_gateway.daemon.core.ir import GatewayRequest, ThinkingConfig
from stackbilt_gateway.daemon.core.route_classes import RouteClass
from stackbilt_gateway.daemon.costs.prices import load_pricebook
from stackbilt_gateway.daemon.routing.classify import RouteDecision, classify
from stackbilt_gateway.daemon.routing.policy import (
    DEFAULT_ROUTES,
    Mode,
    Plan,
    Requested,
    build_route_table,
    plan,
)
from stackbilt_gateway.daemon.routing.registry import Registry, load_registry
from tests.routing.captures import claude, codex, with_image, with_user_text

OPUS = Requested("anthropic", "claude-opus-5-5")
GPT = Requested("openai", "gpt-5.5")


def everyone(_: str) -> bool:
    return True


def run(
    req: GatewayRequest,
    *,
    mode: Mode = "live",
    requested: Requested = OPUS,
    client: str = "claude-code",
    routes: Mapping[RouteClass, Sequence[str]] | None = None,
    registry: Registry | None = None,
    health: Callable[[str], bool] = everyone,
    configured: Callable[[str], bool] = everyone,
    sticky: str | None = None,
    allow_experimental: bool = False,
    decision: RouteDecision | None = None,
    **kw: object,
) -> Plan:
    return plan(
        req,
        decision or classify(req, client=client),
        requested,
        mode=mode,
        route_table=routes if routes is not None else DEFAULT_ROUTES,
        registry=registry or load_registry(),
        health=health,
        sticky=sticky,
        client=client,
        allow_experimental=allow_experimental,
        configured=configured,
        **kw,  # type: ignore[arg-type]
    )


def keys(p: Plan) -> list[str]:
    return [c.key for c in p.serve]


def title() -> GatewayRequest:
    return claude("messages_interactive_title_generation")


def test_shadow_always_serves_the_requested_model_first_and_records_the_would_route() -> None:
    p = run(title(), mode="shadow")
    assert keys(p) == ["anthropic/claude-opus-5-5"]
    assert p.would_route is not None and p.would_route.key == "groq/llama-3.1-8b-instant"
    assert p.mode == "shadow"


def test_live_routes_the_title_request_cheap_with_requested_last() -> None:
    p = run(title())
    assert keys(p) == [
        "groq/llama-3.1-8b-instant",
        "cerebras/gpt-oss-120b",
        "openai/gpt-5.4-nano",
        "anthropic/claude-opus-5-5",
    ]
    assert p.would_route == p.serve[0]
    assert p.serve[-1].reason == "requested"


def test_title_max_tokens_is_clamped_for_small_targets() -> None:
    p = run(title())  # Claude Code asks for max_tokens 128000
    by_key = {c.key: c for c in p.serve}
    assert by_key["groq/llama-3.1-8b-instant"].max_tokens is None  # 131k window: fits as sent
    assert by_key["cerebras/gpt-oss-120b"].max_tokens == 32768  # its max_output
    assert by_key["anthropic/claude-opus-5-5"].max_tokens is None


def test_no_clamp_for_classes_that_need_long_answers() -> None:
    req = dataclasses.replace(with_user_text(title(), "implement a parser"), response_format=None)
    routes: dict[RouteClass, tuple[str, ...]] = {"code_draft": ("cerebras/gpt-oss-120b",)}
    p = run(req, routes=routes)
    assert keys(p) == ["anthropic/claude-opus-5-5"]
    limited = [r for r in p.reasons if "output limit 32768 below max_tokens" in r]
    assert limited and "no clamp for code_draft" in limited[0], p.reasons


def test_unconfigured_and_unhealthy_providers_are_skipped() -> None:
    p = run(title(), configured=lambda name: name != "groq", health=lambda name: name != "cerebras")
    assert keys(p) == ["openai/gpt-5.4-nano", "anthropic/claude-opus-5-5"]
    assert any("groq/llama-3.1-8b-instant: provider not configured" in r for r in p.reasons)
    assert any("cerebras/gpt-oss-120b: circuit open" in r for r in p.reasons)


def test_requested_is_the_last_resort_even_when_its_breaker_is_open() -> None:
    p = run(title(), health=lambda name: False)
    assert keys(p) == ["anthropic/claude-opus-5-5"]
    assert any("kept as last resort" in r for r in p.reasons)


def test_tool_turns_only_go_to_models_safe_for_the_client() -> None:
    req = with_user_text(claude("messages_tool_turn1"), "summarize the repo layout")
    assert classify(req).route_class == "summary"
    p = run(req)  # Claude Code carries 12 tools; none of the summary targets is safe
    assert keys(p) == ["anthropic/claude-opus-5-5"]
    assert any("not safe for tool turns from claude-code" in r for r in p.reasons)


def test_experimental_targets_need_the_flag() -> None:
    req = with_user_text(claude("messages_tool_turn1"), "rename foo to bar")
    without = run(req)
    assert keys(without) == ["anthropic/claude-opus-5-5"]
    with_flag = run(req, allow_experimental=True)
    assert keys(with_flag)[:2] == ["groq/openai/gpt-oss-120b", "openai/gpt-5.4-mini"]


def test_codex_tool_turns_may_go_to_codex_safe_openai_models() -> None:
    req = with_user_text(codex("responses_text_gpt-5.5"), "rename foo to bar")
    p = run(req, requested=GPT, client="codex")
    assert keys(p) == ["openai/gpt-5.4-mini", "openai/gpt-5.5"]


def test_tool_loop_stays_on_the_requested_model() -> None:
    p = run(claude("messages_tool_result_turn2"), allow_experimental=True)
    assert keys(p) == ["anthropic/claude-opus-5-5"]
    assert p.would_route is not None and p.would_route.key == "anthropic/claude-opus-5-5"


def test_thinking_requires_a_thinking_model() -> None:
    req = dataclasses.replace(title(), thinking=ThinkingConfig(effort="low"))
    p = run(req)
    assert "groq/llama-3.1-8b-instant" not in keys(p)
    assert "cerebras/gpt-oss-120b" in keys(p)
    assert any("no thinking support" in r for r in p.reasons)


def test_images_require_vision() -> None:
    p = run(with_image(title()))
    assert keys(p) == ["openai/gpt-5.4-nano", "anthropic/claude-opus-5-5"]


def test_too_big_for_the_window_is_never_planned() -> None:
    registry = load_registry({"groq/llama-3.1-8b-instant": {"context_window": 1_000}})
    p = run(title(), registry=registry)
    assert "groq/llama-3.1-8b-instant" not in keys(p)


def test_pinned_requests_are_served_as_is_in_both_modes() -> None:
    pinned = Requested("groq", "llama-3.3-70b-versatile", pinned=True)
    modes: tuple[Mode, ...] = ("shadow", "live")
    for mode in modes:
        p = run(claude("messages_tool_turn1"), mode=mode, requested=pinned)
        assert keys(p) == ["groq/llama-3.3-70b-versatile"]
        assert p.serve[0].reason == "pinned by the client"


def test_stickiness_prefers_the_sessions_provider_among_valid_candidates() -> None:
    p = run(title(), sticky="cerebras")
    assert keys(p)[0] == "cerebras/gpt-oss-120b"
    assert any("sticky session: prefer cerebras" in r for r in p.reasons)
    unhealthy = run(title(), sticky="cerebras", health=lambda n: n != "cerebras")
    assert keys(unhealthy)[0] == "groq/llama-3.1-8b-instant"
    # the requested model, appended as the last resort, is not pulled forward by stickiness
    assert keys(run(title(), sticky="anthropic"))[0] == "groq/llama-3.1-8b-instant"


def test_low_confidence_routes_like_fallback_safe() -> None:
    decision = RouteDecision("summary", 0.4, "keyword_summary", {"est_tokens": 900})
    p = run(title(), decision=decision)
    assert keys(p) == ["anthropic/claude-opus-5-5"]
    assert any("routing as fallback_safe" in r for r in p.reasons)


def test_targets_not_cheaper_than_the_requested_model_are_skipped_with_prices() -> None:
    haiku = Requested("anthropic", "claude-haiku-5-5")  # 0.10 input
    p = run(title(), requested=haiku, prices=load_pricebook())
    assert keys(p) == ["groq/llama-3.1-8b-instant", "anthropic/claude-haiku-5-5"]
    assert any("not cheaper" in r for r in p.reasons)


def test_shadow_fallback_adds_same_provider_candidates_only() -> None:
    routes: dict[RouteClass, tuple[str, ...]] = {
        "background": ("groq/llama-3.1-8b-instant", "anthropic/claude-haiku-4-5")
    }
    p = run(title(), mode="shadow", routes=routes, shadow_fallback=True)
    assert keys(p) == ["anthropic/claude-opus-5-5", "anthropic/claude-haiku-4-5"]
    assert keys(run(title(), mode="shadow", routes=routes)) == ["anthropic/claude-opus-5-5"]


def test_route_table_entries_requested_and_unknown() -> None:
    routes: dict[RouteClass, tuple[str, ...]] = {"background": ("requested", "groq/llama-3.1-8b-instant")}
    assert keys(run(title(), routes=routes)) == ["anthropic/claude-opus-5-5", "groq/llama-3.1-8b-instant"]
    routes = {"background": ("groq/never-heard-of-it",)}
    p = run(title(), routes=routes)
    assert keys(p) == ["anthropic/claude-opus-5-5"]
    assert any("not in the compatibility registry" in r for r in p.reasons)


def test_build_route_table() -> None:
    table = build_route_table({"summary": ["cerebras/gpt-oss-120b"]})
    assert table["summary"] == ("cerebras/gpt-oss-120b",)
    assert table["tool_loop"] == ("requested",)
    with pytest.raises(ValueError, match="unknown route class 'sumary'"):
        build_route_table({"sumary": []})
