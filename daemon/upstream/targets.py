"""Resolve a client's model name to a provider and upstream model; the providers as resolved once.

``Providers`` is built once at start-up from the config and the daemon's environment: every
provider's effective base URL, the providers whose URL points back at the gateway itself (a
request loop), and memoised name → ``Target`` resolution. Nothing on the request path reads the
environment again.

Order: aliases — the config's ``model_map`` over the shipped ``ALIASES`` (exact name) >
``<provider>/<model>`` pins (the first path
segment is a known provider name) > the providers' model-name prefixes (``claude-`` → Anthropic,
``gpt-`` → OpenAI, ``@cf/`` → Cloudflare, …). Anything else is an ``UnknownModel`` error that
lists what is available. Vertex AI's base URL is completed from ``providers.vertex.project`` /
``.location`` here, and its OAuth token source (``google_auth.TokenSource``) rides on its targets;
a bad service-account file is logged once at start-up (``Providers.problems``). A target's
``spec`` carries the config's ``providers.<name>.translate_wire`` (``core.providers.with_settings``),
which ``wires.registry.translation_wire`` follows. Pure otherwise:
no I/O beyond reading that file once.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from ..core.config import Config
from ..core.errors import NoProviderAvailable, UnknownModel
from ..core.providers import ProviderSpec, base_url_for, builtin_providers, with_settings
from .cli_bridge import ClaudeCli
from .google_auth import CredentialFileError, TokenSource, credentials_path

log = logging.getLogger(__name__)

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
    # Providers authenticated with OAuth access tokens (Vertex AI): where the token comes from.
    token: TokenSource | None = None

    def url(self, path: str, query: str = "") -> str:
        """``base_url + path [+ ?query]``; a base URL still missing its account id is an error.

        ``{model}`` in ``path`` is this target's model (the Gemini wire's per-model methods)."""
        if "{project}" in self.base_url or "{location}" in self.base_url:
            raise NoProviderAvailable(
                f"provider {self.spec.name} needs a Google Cloud project and location: set "
                f"providers.{self.spec.name}.project and providers.{self.spec.name}.location in the "
                "config file",
                provider=self.spec.name,
            )
        if "{model}" in path:
            path = path.replace("{model}", self.model)
        if "{account_id}" in self.base_url:
            env_name = self.spec.account_env or "the account id"
            raise NoProviderAvailable(
                f"provider {self.spec.name} needs an account id: set {env_name} for the daemon "
                f"or providers.{self.spec.name}.base_url in the config file",
                provider=self.spec.name,
            )
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")


def _split_pin(name: str, providers: Mapping[str, ProviderSpec]) -> tuple[ProviderSpec, str] | None:
    head, sep, rest = name.partition("/")
    if sep and rest and head in providers:
        return providers[head], rest
    return None


def resolve_model(name: str, config: Config, env: Mapping[str, str]) -> Target:
    """``name`` → its ``Target`` (order in the module docstring), base URL from config and env."""
    return _resolve(name, config, lambda spec: base_url_for(spec, config, env))


def _resolve(name: str, config: Config, url_of: Callable[[ProviderSpec], str]) -> Target:
    providers = builtin_providers()
    aliases = alias_table(config)
    pinned = name in aliases or _split_pin(name, providers) is not None
    mapped = aliases.get(name, name)
    pin = _split_pin(mapped, providers)
    if pin is not None:
        spec, model = pin
        return Target(with_settings(spec, config), model, url_of(spec), pinned=pinned)
    for spec in providers.values():
        settings = config.providers.get(spec.name)
        if settings is not None and not settings.enabled:
            continue
        if any(mapped.startswith(p) for p in spec.model_prefixes):
            return Target(with_settings(spec, config), mapped, url_of(spec), pinned=pinned)
    raise UnknownModel(
        f"model {name!r} is not known to the gateway. Use a Claude model name (claude-…), "
        f"a provider-pinned name such as 'groq/llama-3.3-70b-versatile' "
        f"(providers: {', '.join(sorted(providers))}), or an alias: {', '.join(sorted(aliases))}",
        param="model",
    )


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "localhost.localdomain"})
_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_V6 = ipaddress.IPv6Address("::1")


def is_loopback_name(host: str) -> bool:
    """A loopback host (the Host/Origin checks and the request-loop check share it).

    ``host`` is a bare host (no port, no IPv6 brackets), compared case-insensitively and exactly:
    ``localhost`` / ``localhost.localdomain``, an IPv4 address in 127.0.0.0/8 or the IPv6 address
    ``::1``. A name that merely starts like one (``127.0.0.1.evil.example``) is not loopback, and
    neither is an IPv4-mapped or scoped IPv6 address.
    """
    name = host.lower()
    if name in LOOPBACK_NAMES:
        return True
    if "%" in name:  # a zone id: ipaddress accepts "::1%eth0", a Host header must not
        return False
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return address in _LOOPBACK_V4
    return address == _LOOPBACK_V6


def find_loops(config: Config, env: Mapping[str, str], base_urls: Mapping[str, str]) -> dict[str, str]:
    """Providers whose upstream URL is the gateway's own listen address (a request loop)."""
    own_hosts = {config.host.lower(), "0.0.0.0", "::"}
    loops: dict[str, str] = {}
    for name, base in base_urls.items():
        spec = builtin_providers()[name]
        url = base.replace("{account_id}", "x")
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            continue
        if port == config.port and (is_loopback_name(host) or host in own_hosts):
            loops[name] = (
                f"the upstream URL for {name} ({url}) is the gateway's own address, which would "
                f"loop forever; set providers.{name}.base_url or {spec.env_base_url_var} to the "
                f"real provider (the daemon does not read ANTHROPIC_BASE_URL/OPENAI_BASE_URL)"
            )
    return loops


def fill_google_cloud(url: str, config: Config, provider: str) -> str:
    """``{project}`` / ``{location}`` in a Vertex AI base URL from ``providers.<name>`` settings
    (a missing one stays, and ``Target.url`` says what to set). ``global`` has no region host."""
    settings = config.providers.get(provider)
    project = settings.project if settings else None
    location = settings.location if settings else None
    if location:
        if location == "global":
            url = url.replace("{location}-aiplatform.", "aiplatform.")
        url = url.replace("{location}", location)
    if project:
        url = url.replace("{project}", project)
    return url


def token_sources(config: Config, env: Mapping[str, str]) -> tuple[dict[str, TokenSource], dict[str, str]]:
    """The OAuth token source of each ``google-oauth`` provider with a credential file, and the
    providers whose file is unusable (name → why, naming the file)."""
    sources: dict[str, TokenSource] = {}
    problems: dict[str, str] = {}
    for name, spec in builtin_providers().items():
        if spec.auth != "google-oauth":
            continue
        settings = config.providers.get(name)
        path = credentials_path(settings.credentials_file if settings else None, env)
        if path is None:
            continue
        source = TokenSource(path)
        try:
            source.check()
        except CredentialFileError as exc:
            problems[name] = str(exc)
        sources[name] = source
    return sources, problems


@dataclass(slots=True)
class Providers:
    """The providers as resolved once for the daemon's life (see the module docstring)."""

    config: Config
    base_urls: dict[str, str]
    loops: dict[str, str] = field(default_factory=dict)
    _targets: dict[str, Target] = field(default_factory=dict)
    # OAuth token sources (Vertex AI) and unusable credential files, by provider.
    tokens: dict[str, TokenSource] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    # The Claude Code CLI bridge's process runner (its concurrency slots live for the daemon's life).
    cli: ClaudeCli | None = None

    @classmethod
    def resolve_all(cls, config: Config, env: Mapping[str, str]) -> Providers:
        urls = {name: base_url_for(spec, config, env) for name, spec in builtin_providers().items()}
        for name, spec in builtin_providers().items():
            if spec.auth == "google-oauth":
                urls[name] = fill_google_cloud(urls[name], config, name)
        tokens, problems = token_sources(config, env)
        for name, why in problems.items():
            log.warning("provider %s is not usable: %s", name, why)
        return cls(
            config,
            urls,
            find_loops(config, env, urls),
            tokens=tokens,
            problems=problems,
            cli=ClaudeCli.from_config(config, env),
        )

    def spec(self, name: str) -> ProviderSpec:
        return builtin_providers()[name]

    def target(self, provider: str, model: str, *, pinned: bool = False) -> Target:
        return Target(
            with_settings(self.spec(provider), self.config),
            model,
            self.base_urls[provider],
            pinned=pinned,
            token=self.tokens.get(provider),
        )

    def resolve(self, name: str) -> Target:
        """``resolve_model`` memoised (bounded); runs on every request."""
        found = self._targets.get(name)
        if found is None:
            found = _resolve(name, self.config, lambda spec: self.base_urls[spec.name])
            if found.spec.name in self.tokens:
                found = replace(found, token=self.tokens[found.spec.name])
            if len(self._targets) >= 4096:
                self._targets.clear()
            self._targets[name] = found
        return found

    def claude_cli(self) -> ClaudeCli:
        """The bridge's runner (one without the daemon's environment if none was made at start-up)."""
        if self.cli is None:
            self.cli = ClaudeCli.from_config(self.config, {})
        return self.cli

    def check_loop(self, target: Target) -> None:
        """Refuse a target whose base URL is the gateway itself."""
        reason = self.loops.get(target.spec.name)
        if reason:
            raise NoProviderAvailable(reason, provider=target.spec.name)
