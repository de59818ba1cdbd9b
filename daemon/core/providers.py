"""Provider descriptions, loaded from the shipped ``providers.json`` data file.

A provider is data: its wire protocol, base URL, auth style, key variable names, model-name
prefixes and request quirks. Base URLs are overridable per provider in the config file
(``providers.<name>.base_url``) and by ``STACKBILT_<NAME>_BASE_URL``. Pure: no network, no keyring.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any, Literal

from .config import Config

WireName = Literal["anthropic", "chat", "responses", "gemini"]
# "x-goog-api-key": the Gemini API key header; "google-oauth": a service-account access token.
AuthStyle = Literal["x-api-key", "bearer", "none", "x-goog-api-key", "google-oauth"]


@dataclass(frozen=True, slots=True)
class Quirks:
    # Name of the output-limit field for Chat Completions upstreams.
    max_tokens_field: str = "max_tokens"
    # Parameters this provider rejects; dropped deliberately before sending.
    drop_params: tuple[str, ...] = ()
    # True: the provider understands the `developer` role; False: send `system` instead.
    developer_role: bool = False
    drop_message_name: bool = False
    # Ask for a final usage chunk with stream_options.include_usage.
    stream_usage: bool = False
    # Always send an output limit (some default to a tiny one when it is omitted).
    always_send_max_tokens: bool = False
    # Echo `reasoning_content` on assistant tool-call turns (DeepSeek thinking mode).
    echo_reasoning_content: bool = False
    # Accepts OpenAI's `prompt_cache_key` (the gateway sets one from the session when absent).
    prompt_cache_key: bool = False


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str
    display_name: str
    # Wire protocols the provider speaks, preferred first.
    wires: tuple[WireName, ...]
    base_url: str
    auth: AuthStyle
    key_env: tuple[str, ...]
    key_optional: bool = False
    account_env: str | None = None
    model_prefixes: tuple[str, ...] = ()
    quirks: Quirks = field(default_factory=Quirks)
    # A local process that serves the provider instead of an HTTP upstream ("claude-cli": the
    # user's own Claude Code CLI, ``upstream.cli_bridge``); None for HTTP providers.
    bridge: str | None = None
    # The wire requests from other protocols are translated onto (OpenAI-compatible providers:
    # "responses" or "chat"); None: the first of ``wires`` the gateway can translate into.
    # ``providers.<name>.translate_wire`` in the config overrides it (``with_settings``).
    translate_wire: WireName | None = None

    @property
    def env_base_url_var(self) -> str:
        return f"STACKBILT_{self.name.upper()}_BASE_URL"


def _spec(name: str, raw: Mapping[str, Any]) -> ProviderSpec:
    q = dict(raw.get("quirks", {}))
    if "drop_params" in q:
        q["drop_params"] = tuple(q["drop_params"])
    return ProviderSpec(
        name=name,
        display_name=raw["display_name"],
        wires=tuple(raw["wires"]),
        base_url=raw["base_url"],
        auth=raw["auth"],
        key_env=tuple(raw.get("key_env", ())),
        key_optional=bool(raw.get("key_optional", False)),
        account_env=raw.get("account_env"),
        model_prefixes=tuple(raw.get("model_prefixes", ())),
        quirks=Quirks(**q),
        translate_wire=raw.get("translate_wire"),
        bridge=raw.get("bridge"),
    )


@cache
def builtin_providers() -> dict[str, ProviderSpec]:
    text = resources.files("stackbilt_gateway.daemon.data").joinpath("providers.json").read_text("utf-8")
    return {name: _spec(name, raw) for name, raw in json.loads(text).items()}


def with_settings(spec: ProviderSpec, config: Config) -> ProviderSpec:
    """``spec`` with the config file's per-provider overrides of its description
    (``providers.<name>.translate_wire``); ``spec`` itself when there are none."""
    settings = config.providers.get(spec.name)
    wire = settings.translate_wire if settings is not None else None
    if wire is None or wire == spec.translate_wire:
        return spec
    return replace(spec, translate_wire=wire)  # type: ignore[arg-type]  # validated by config_load


def base_url_for(spec: ProviderSpec, config: Config, env: Mapping[str, str]) -> str:
    """The effective base URL: env > config file > shipped default, without a trailing slash.

    ``{account_id}`` in a template is filled from the provider's account variable; a missing one
    is left in place so the caller can report the provider as not configured.
    """
    url = env.get(spec.env_base_url_var) or ""
    if not url:
        settings = config.providers.get(spec.name)
        url = (settings.base_url if settings and settings.base_url else None) or spec.base_url
    if "{account_id}" in url and spec.account_env and env.get(spec.account_env):
        url = url.replace("{account_id}", env[spec.account_env])
    return url.rstrip("/")
