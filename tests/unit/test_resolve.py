"""Model-name resolution: aliases, provider pins, prefixes and the unknown-model error."""

from __future__ import annotations

import pytest

from stackbilt_gateway.daemon.core.config import Config, ProviderSettings
from stackbilt_gateway.daemon.core.errors import UnknownModel
from stackbilt_gateway.daemon.upstream.targets import ALIASES, resolve_model


@pytest.mark.parametrize(
    ("name", "provider", "model", "pinned"),
    [
        ("claude-opus-5-5", "anthropic", "claude-opus-5-5", False),
        ("gpt-5.5", "openai", "gpt-5.5", False),
        ("o3-mini", "openai", "o3-mini", False),
        ("llama-3.3-70b-versatile", "groq", "llama-3.3-70b-versatile", False),
        ("@cf/meta/llama-3.1-8b-instruct", "cloudflare", "@cf/meta/llama-3.1-8b-instruct", False),
        ("deepseek-flash", "deepseek", "deepseek-flash", False),
        ("groq/openai/gpt-oss-120b", "groq", "openai/gpt-oss-120b", True),
        ("ollama/qwen2.5-coder", "ollama", "qwen2.5-coder", True),
        ("openrouter/anthropic/claude-3.5", "openrouter", "anthropic/claude-3.5", True),
        ("stackbilt-auto", "anthropic", "claude-sonnet-5-5", True),
        ("default-fast", "groq", "llama-3.1-8b-instant", True),
    ],
)
def test_resolution(name: str, provider: str, model: str, pinned: bool) -> None:
    target = resolve_model(name, Config(), {})
    assert (target.spec.name, target.model, target.pinned) == (provider, model, pinned)


def test_config_model_map_overrides_a_shipped_alias() -> None:
    cfg = Config(
        model_map={"stackbilt-auto": "groq/llama-3.1-8b-instant", "my-model": "cerebras/gpt-oss-120b"}
    )
    assert resolve_model("stackbilt-auto", cfg, {}).spec.name == "groq"
    assert resolve_model("my-model", cfg, {}).model == "gpt-oss-120b"
    assert "stackbilt-auto" in ALIASES


def test_disabled_provider_is_left_out_of_prefix_routing() -> None:
    cfg = Config(providers={"groq": ProviderSettings(enabled=False)})
    with pytest.raises(UnknownModel):
        resolve_model("meta-llama/llama-4-scout-17b-16e-instruct", cfg, {})


def test_unknown_model_lists_what_exists() -> None:
    with pytest.raises(UnknownModel) as caught:
        resolve_model("mystery-9", Config(model_map={"mine": "groq/x"}), {})
    message = caught.value.message
    assert "mystery-9" in message and "groq" in message and "stackbilt-auto" in message and "mine" in message
    assert caught.value.status == 404


def test_base_url_override_from_env_and_config() -> None:
    cfg = Config(providers={"groq": ProviderSettings(base_url="http://mirror.local/v1")})
    assert resolve_model("groq/x", cfg, {}).base_url == "http://mirror.local/v1"
    env = {"STACKBILT_GROQ_BASE_URL": "http://env.local/v1/"}
    assert resolve_model("groq/x", cfg, env).base_url == "http://env.local/v1"
