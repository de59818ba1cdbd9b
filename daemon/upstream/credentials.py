"""Credentials for upstream calls, in one place: which header carries which key, and what to say
when there is none.

A provider's key goes in its own auth header (``x-api-key``, ``x-goog-api-key`` or
``Authorization: Bearer``); an OAuth provider (Vertex AI) gets a Bearer access token from its
target's token source (``google_auth``), fetched asynchronously by ``target_auth``. For a
pass-through call with no configured key, the client's own credential (a subscription login or
the client's own provider key, ``ClientCredential``) is forwarded unchanged; with neither, the
error names the command or variable that fixes it. Does not read keys (``control.secrets`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.errors import AuthenticationFailed, NoProviderAvailable
from ..core.providers import ProviderSpec

if TYPE_CHECKING:
    from .targets import Target


@dataclass(slots=True)
class ClientCredential:
    """A credential the client sent for the upstream itself (subscription OAuth or own key)."""

    header: str
    value: str


def needs_key(spec: ProviderSpec) -> bool:
    """True when calls to ``spec`` cannot go without a configured key."""
    return not spec.key_optional and spec.auth != "none"


def missing_key_error(spec: ProviderSpec) -> NoProviderAvailable:
    if spec.auth == "google-oauth":
        return NoProviderAvailable(
            f"no service-account credentials for provider {spec.name}: set "
            f"providers.{spec.name}.credentials_file in the config file or "
            "GOOGLE_APPLICATION_CREDENTIALS in the daemon's environment",
            provider=spec.name,
        )
    env_names = " or ".join(spec.key_env) or "its key variable"
    return NoProviderAvailable(
        f"no API key for provider {spec.name}: run `stackbilt-gw keys set {spec.name}` "
        f"or set {env_names} in the daemon's environment",
        provider=spec.name,
    )


def auth_headers(spec: ProviderSpec, key: str | None) -> list[tuple[str, str]]:
    """The provider's own auth header for ``key`` (none without a key or for keyless providers)."""
    if not key or spec.auth == "none":
        return []
    if spec.auth == "x-api-key":
        return [("x-api-key", key)]
    if spec.auth == "x-goog-api-key":
        return [("x-goog-api-key", key)]
    return [("authorization", f"Bearer {key}")]


def translated_auth(spec: ProviderSpec, key: str | None) -> list[tuple[str, str]]:
    """Auth for a translated call: the provider key, or an error when one is needed and absent."""
    if key is None and needs_key(spec):
        raise missing_key_error(spec)
    return auth_headers(spec, key)


async def target_auth(target: Target, key: str | None) -> list[tuple[str, str]]:
    """``translated_auth`` for a target: an OAuth provider's fresh access token (one refresh for
    any number of concurrent requests), else the provider key."""
    if target.spec.auth == "google-oauth":
        if target.token is None:
            raise missing_key_error(target.spec)
        return [("authorization", f"Bearer {await target.token.token()}")]
    return translated_auth(target.spec, key)


def passthrough_auth(
    spec: ProviderSpec, provider_key: str | None, client: ClientCredential | None
) -> list[tuple[str, str]]:
    """Auth for a pass-through call: the provider key, else the client's own credential."""
    if provider_key:
        return auth_headers(spec, provider_key)
    if client is not None:
        return [(client.header, client.value)]
    if not needs_key(spec):
        return []
    if spec.name == "anthropic":
        raise AuthenticationFailed(
            "no Anthropic API key is configured for the gateway and the client sent no Anthropic "
            "credential of its own. Run `stackbilt-gw keys set anthropic`, set ANTHROPIC_API_KEY in "
            "the daemon's environment, or let the client send its own login and authenticate to the "
            "gateway with the x-stackbilt-gateway-key header.",
            provider="anthropic",
        )
    raise missing_key_error(spec)
