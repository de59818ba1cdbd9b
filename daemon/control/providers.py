"""The providers a user can set up, as the CLI asks about them: names, key needs, known models.

Owns the questions ``keys``, ``init`` and ``doctor`` ask: which providers exist
(``provider_specs``, in the shipped order), which one a user-typed name means (``find_provider``),
whether a provider needs a key at all (``needs_key``) and which models the shipped catalogue knows
for it (``known_models``). ``ProviderSpec`` is named here for callers' annotations.

Does not own the provider descriptions (``core.providers``, from ``providers.json``), the model
catalogue (``upstream.catalog``), nor where keys are stored (``secrets``).
"""

from __future__ import annotations

from ..core.providers import ProviderSpec, builtin_providers
from ..upstream.catalog import models_of

__all__ = ["ProviderSpec", "find_provider", "known_models", "needs_key", "provider_specs"]


def provider_specs() -> dict[str, ProviderSpec]:
    """Every built-in provider by name, in the order ``providers.json`` lists them."""
    return builtin_providers()


def find_provider(name: str) -> ProviderSpec | None:
    """The provider a user typed (case and surrounding spaces ignored), or None."""
    return builtin_providers().get(name.strip().lower())


def needs_key(spec: ProviderSpec) -> bool:
    """True when the provider cannot be used without an API key."""
    return not spec.key_optional and spec.auth != "none"


def known_models(provider: str) -> list[str]:
    """The model names the shipped catalogue lists for ``provider``, sorted (empty when none)."""
    return models_of(provider)
