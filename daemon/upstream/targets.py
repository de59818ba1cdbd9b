"""Resolve a client's model name to a provider and upstream model.

Order: aliases — the config's ``model_map`` over the shipped ``ALIASES`` (exact name) >
``<provider>/<model>`` pins (the first path
segment is a known provider name) > the providers' model-name prefixes (``claude-`` → Anthropic,
``gpt-`` → OpenAI, ``@cf/`` → Cloudflare, …). Anything else is an ``UnknownModel`` error that
lists what is available. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..core.config import Config
from ..core.errors import UnknownModel
from ..core.providers import ProviderSpec, base_url_for, builtin_providers

# Shipped aliases; ``model_map`` entries with the same name replace them.
ALIASES: dict[str, str] = {
    "stackbilt-auto": "anthropic/claude-sonnet-5-5",
    "default-chat": "anthropic/claude-sonnet-5-5",
    "default-code": "openai/gpt-5.5",
    "default-fast": "groq/llama-3.1-8b-instant",
    "default-local": "ollama/qwen2.5-coder",
}


def alias_table(config: Config) -> dict[str, str]:
    return {**ALIASES, **config.model_map}


@dataclass(frozen=True, slots=True)
class Target:
    spec: ProviderSpec
    model: str
    base_url: str
    # True when the client named the provider explicitly (routing must not move it).
    pinned: bool = False


def _split_pin(name: str, providers: Mapping[str, ProviderSpec]) -> tuple[ProviderSpec, str] | None:
    head, sep, rest = name.partition("/")
    if sep and rest and head in providers:
        return providers[head], rest
    return None


def resolve_model(name: str, config: Config, env: Mapping[str, str]) -> Target:
    providers = builtin_providers()
    aliases = alias_table(config)
    pinned = name in aliases or _split_pin(name, providers) is not None
    mapped = aliases.get(name, name)
    pin = _split_pin(mapped, providers)
    if pin is not None:
        spec, model = pin
        return Target(spec, model, base_url_for(spec, config, env), pinned=pinned)
    for spec in providers.values():
        settings = config.providers.get(spec.name)
        if settings is not None and not settings.enabled:
            continue
        if any(mapped.startswith(p) for p in spec.model_prefixes):
            return Target(spec, mapped, base_url_for(spec, config, env), pinned=pinned)
    raise UnknownModel(
        f"model {name!r} is not known to the gateway. Use a Claude model name (claude-…), "
        f"a provider-pinned name such as 'groq/llama-3.3-70b-versatile' "
        f"(providers: {', '.join(sorted(providers))}), or an alias: {', '.join(sorted(aliases))}",
        param="model",
    )
