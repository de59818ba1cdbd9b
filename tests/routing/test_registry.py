"""The compatibility registry: shipped data, user overrides, fit and safety rules."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from stackbilt_gateway.daemon.core.providers import builtin_providers
from stackbilt_gateway.daemon.costs.prices import load_pricebook
from stackbilt_gateway.daemon.routing.registry import (
    ModelInfo,
    Registry,
    RegistryError,
    load_registry,
    split_key,
)


def _pricing() -> list[dict[str, object]]:
    text = resources.files("stackbilt_gateway.daemon.data").joinpath("pricing.json").read_text("utf-8")
    return list(json.loads(text))


def test_every_anthropic_model_in_pricing_is_safe_for_both_clients() -> None:
    registry = load_registry()
    for entry in _pricing():
        if entry["provider"] != "anthropic":
            continue
        info = registry.get("anthropic", str(entry["model"]))
        assert info is not None, entry["model"]
        assert info.claude_code_safe is True and info.codex_safe is True
        assert info.tools and info.thinking and info.vision and info.context_window


def test_openai_is_codex_safe_and_experimental_for_claude_code() -> None:
    info = load_registry().get("openai", "gpt-5.5")
    assert info is not None
    assert (info.codex_safe, info.claude_code_safe) == (True, "experimental")


def test_cheap_models_are_conservative() -> None:
    registry = load_registry()
    oss = registry.get("groq", "openai/gpt-oss-120b")
    assert oss is not None and oss.claude_code_safe == "experimental" and oss.tools
    for key, info in registry.models.items():
        if info.provider in ("groq", "cerebras", "cloudflare", "deepseek"):
            assert info.claude_code_safe is not True, key
            assert info.codex_safe is not True, key


def test_every_shipped_model_names_a_known_provider_and_priced_ones_resolve() -> None:
    registry = load_registry()
    book = load_pricebook()
    providers = builtin_providers()
    for key, info in registry.models.items():
        assert info.provider in providers, key
        assert split_key(key) == (info.provider, info.model)
        assert info.price_ref == key
    # pricing.json's "cloudflare-workers-ai" maps onto providers.json's "cloudflare"
    for entry in _pricing():
        if entry.get("input_per_mtok") is None:
            continue
        provider = {"cloudflare-workers-ai": "cloudflare"}.get(str(entry["provider"]), str(entry["provider"]))
        assert registry.get(provider, str(entry["model"])) is not None, entry["model"]
        assert book.get(provider, str(entry["model"])) is not None


def test_unknown_models_are_unsafe_and_never_fit() -> None:
    registry = load_registry()
    assert registry.get("groq", "brand-new") is None
    info = registry.describe("groq", "brand-new")
    assert not info.known and info.context_window is None
    assert not Registry.safe_for(info, "claude-code", allow_experimental=True)
    assert not Registry.fits(info, 10, 10)


def test_fits_uses_margin_and_output_limit() -> None:
    info = ModelInfo("p", "m", context_window=10_000, max_output=2_000, tools=True)
    assert Registry.fits(info, 6_000, 2_000)  # 7200 + 2000 <= 10000
    assert not Registry.fits(info, 7_000, 2_000)  # 8400 + 2000 > 10000
    assert not Registry.fits(info, 100, 2_001)  # over max_output
    assert Registry.fits(info, 8_000, None)


@pytest.mark.parametrize(
    ("cc", "cx", "client", "experimental", "expected"),
    [
        (True, False, "claude-code", False, True),
        (True, False, "codex", False, False),
        ("experimental", True, "claude-code", False, False),
        ("experimental", True, "claude-code", True, True),
        (True, "experimental", "sdk", False, False),  # other clients need both flags
        (True, "experimental", "unknown", True, True),
        (False, True, "codex", True, True),
    ],
)
def test_safe_for(cc: object, cx: object, client: str, experimental: bool, expected: bool) -> None:
    info = ModelInfo("p", "m", tools=True, claude_code_safe=cc, codex_safe=cx)  # type: ignore[arg-type]
    assert Registry.safe_for(info, client, allow_experimental=experimental) is expected


def test_a_model_without_tools_is_never_safe() -> None:
    info = ModelInfo("p", "m", tools=False, claude_code_safe=True, codex_safe=True)
    assert not Registry.safe_for(info, "claude-code", allow_experimental=True)


def test_overrides_change_named_fields_and_add_models() -> None:
    registry = load_registry(
        {
            "groq/openai/gpt-oss-120b": {"claude_code_safe": True},
            "ollama/qwen3-coder": {"context_window": 32768, "tools": True, "codex_safe": "experimental"},
        }
    )
    oss = registry.get("groq", "openai/gpt-oss-120b")
    assert oss is not None and oss.claude_code_safe is True and oss.context_window == 131072
    local = registry.get("ollama", "qwen3-coder")
    assert local is not None and local.codex_safe == "experimental" and local.claude_code_safe is False
    assert local.max_output is None and local.price_ref == "ollama/qwen3-coder"


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"groq/x": {"toolz": True}}, "models.groq/x.toolz"),
        ({"groq/x": {"tools": "yes"}}, "models.groq/x.tools"),
        ({"groq/x": {"codex_safe": "maybe"}}, "models.groq/x.codex_safe"),
        ({"groq/x": {"max_output": -1}}, "models.groq/x.max_output"),
        ({"groq/x": 5}, "models.groq/x"),
        ({"nomodel": {}}, "models.nomodel"),
    ],
)
def test_bad_overrides_name_the_key_path(overrides: dict[str, object], path: str) -> None:
    with pytest.raises(RegistryError) as err:
        load_registry(overrides)  # type: ignore[arg-type]
    assert err.value.path == path
    assert str(err.value).startswith(f'"{path}": ')
