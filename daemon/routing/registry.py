"""The compatibility registry: what each provider/model can do and which clients it is safe for.

Data, not code: shipped defaults in ``data/models.json``, per-model user overrides from the
config file's ``models`` section (validated here, field by field, errors naming the key path).
Answers three questions for the policy: what is known about a model (``get``), does a request
fit it (``fits``), is it safe for a client's tool traffic (``safe_for``). Unknown models are not
safe for tools and have no known window, so they are never a cheap target (the model a client
asked for is always servable; that is the policy's rule, not this module's). Prices are not
here: ``price_ref`` points into the PriceBook. Reading the shipped file is the only I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Literal, cast

Safety = bool | Literal["experimental"]
ClientName = str  # "claude-code" | "codex" | "sdk" | "unknown"
# Estimates are chars/4; code tokenises denser, so a request must fit with this headroom.
FIT_MARGIN = 1.2

_INT_FIELDS = ("context_window", "max_output")
_BOOL_FIELDS = ("streaming", "tools", "vision", "thinking")
_SAFETY_FIELDS = ("claude_code_safe", "codex_safe")
_STR_FIELDS = ("price_ref", "note")
MODEL_FIELDS = (*_INT_FIELDS, *_BOOL_FIELDS, *_SAFETY_FIELDS, *_STR_FIELDS)


class RegistryError(ValueError):
    """A registry entry is malformed; ``path`` is the dotted key path (``models.<p/m>.<field>``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f'"{path}": {message}')
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class ModelInfo:
    provider: str
    model: str
    context_window: int | None = None
    max_output: int | None = None
    streaming: bool = True
    tools: bool = False
    vision: bool = False
    thinking: bool = False
    claude_code_safe: Safety = False
    codex_safe: Safety = False
    # "provider/model" key into the PriceBook (defaults to this model's own key).
    price_ref: str | None = None
    note: str | None = None
    # False for the placeholder describing a model the registry does not know.
    known: bool = True

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"


def split_key(key: str) -> tuple[str, str]:
    """ "groq/openai/gpt-oss-120b" -> ("groq", "openai/gpt-oss-120b") (split at the first slash)."""
    provider, sep, model = key.partition("/")
    if not sep or not provider or not model:
        raise ValueError(f'expected "provider/model", got {key!r}')
    return provider, model


def validate_model_entry(key: str, raw: object, *, prefix: str = "models") -> dict[str, object]:
    """Check one ``models`` entry (all fields optional); return the cleaned fields."""
    path = f"{prefix}.{key}"
    try:
        split_key(key)
    except ValueError:
        raise RegistryError(path, 'the key must be "provider/model"') from None
    if not isinstance(raw, Mapping):
        raise RegistryError(path, "expected an object of model fields")
    out: dict[str, object] = {}
    for name, value in raw.items():
        where = f"{path}.{name}"
        if name in _INT_FIELDS:
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise RegistryError(where, "expected a positive integer or null")
        elif name in _BOOL_FIELDS:
            if not isinstance(value, bool):
                raise RegistryError(where, "expected true or false")
        elif name in _SAFETY_FIELDS:
            if not isinstance(value, bool) and value != "experimental":
                raise RegistryError(where, 'expected true, false or "experimental"')
        elif name in _STR_FIELDS:
            if value is not None and not isinstance(value, str):
                raise RegistryError(where, "expected a string")
        else:
            raise RegistryError(where, f"is not a known model field (known: {', '.join(MODEL_FIELDS)})")
        out[str(name)] = value
    return out


def _info(key: str, f: Mapping[str, object]) -> ModelInfo:
    """Build from validated fields (``validate_model_entry`` checked every type)."""
    provider, model = split_key(key)
    return ModelInfo(
        provider=provider,
        model=model,
        context_window=cast(int | None, f.get("context_window")),
        max_output=cast(int | None, f.get("max_output")),
        streaming=cast(bool, f.get("streaming", True)),
        tools=cast(bool, f.get("tools", False)),
        vision=cast(bool, f.get("vision", False)),
        thinking=cast(bool, f.get("thinking", False)),
        claude_code_safe=cast(Safety, f.get("claude_code_safe", False)),
        codex_safe=cast(Safety, f.get("codex_safe", False)),
        price_ref=cast(str | None, f.get("price_ref")) or key,
        note=cast(str | None, f.get("note")),
    )


@cache
def _shipped() -> dict[str, dict[str, object]]:
    text = resources.files("stackbilt_gateway.daemon.data").joinpath("models.json").read_text("utf-8")
    raw = json.loads(text)["models"]
    return {key: validate_model_entry(key, fields, prefix="models.json") for key, fields in raw.items()}


@dataclass(frozen=True, slots=True)
class Registry:
    models: Mapping[str, ModelInfo] = field(default_factory=dict)

    def get(self, provider: str, model: str) -> ModelInfo | None:
        return self.models.get(f"{provider}/{model}")

    def describe(self, provider: str, model: str) -> ModelInfo:
        """The known entry, or an ``unknown`` placeholder (no window, unsafe for tools)."""
        found = self.get(provider, model)
        return found if found is not None else ModelInfo(provider, model, known=False)

    @staticmethod
    def fits(info: ModelInfo, est_tokens: int, max_tokens: int | None) -> bool:
        """True when the prompt (with ``FIT_MARGIN``) plus ``max_tokens`` fit the window and
        ``max_tokens`` is within the model's output limit. Unknown windows never fit."""
        if info.context_window is None:
            return False
        wanted = max_tokens or 0
        if info.max_output is not None and wanted > info.max_output:
            return False
        return est_tokens * FIT_MARGIN + wanted <= info.context_window

    @staticmethod
    def safe_for(info: ModelInfo, client: ClientName, *, allow_experimental: bool) -> bool:
        """May a tool-carrying turn from ``client`` go to this model?

        Claude Code uses ``claude_code_safe``, Codex ``codex_safe``; other clients (SDKs,
        unknown) need both flags, the stricter reading. ``"experimental"`` passes only with
        ``allow_experimental``. A model without tool support is never safe.
        """
        if not info.known or not info.tools:
            return False
        if client == "claude-code":
            flags: tuple[Safety, ...] = (info.claude_code_safe,)
        elif client == "codex":
            flags = (info.codex_safe,)
        else:
            flags = (info.claude_code_safe, info.codex_safe)
        return all(f is True or (f == "experimental" and allow_experimental) for f in flags)


def load_registry(overrides: Mapping[str, Mapping[str, object]] | None = None) -> Registry:
    """Shipped models.json with ``overrides`` (the config's ``models`` section) laid over it.

    An override for a shipped model changes only the fields it names; an override for a new
    model adds it (fields it leaves out take the conservative ``ModelInfo`` defaults).
    """
    merged: dict[str, dict[str, object]] = {k: dict(v) for k, v in _shipped().items()}
    for key, raw in (overrides or {}).items():
        fields = validate_model_entry(key, raw)
        merged.setdefault(key, {}).update(fields)
    models = {key: _info(key, fields) for key, fields in merged.items()}
    return Registry(models=models)
