"""Loading and validating the configuration layers into a ``Config``.

Layers, lowest first: dataclass defaults < user config file (``<config_dir>/config.json``) <
``gateway.config.json`` / ``stackbilt.gateway.json`` in the working directory < environment
(``STACKBILT_GATEWAY_PORT``, ``STACKBILT_GATEWAY_HOST``, ``STACKBILT_<NAME>_BASE_URL``) <
CLI flags. Unknown keys and bad values raise ``ConfigError`` naming the file and the dotted key.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config_values import (
    TRANSLATE_WIRES,
    Invalid,
    InvalidAt,
    Validator,
    boolean,
    db_path,
    effort,
    file_path,
    fraction,
    gcp_name,
    host_list,
    host_name,
    http_url,
    int_between,
    lane,
    log_level,
    mode_name,
    otlp_headers,
    otlp_protocol,
    postgres_url,
    seconds,
    show,
    suggest,
    translate_wire,
)
from .control.paths import Paths, resolve_paths
from .core.config import (
    BudgetsSettings,
    CacheSettings,
    CompactionSettings,
    Config,
    ConfigError,
    OtlpSettings,
    PolicySettings,
    ProviderSettings,
    ResponseCacheSettings,
    RoutingSettings,
    TelemetrySettings,
    Timeouts,
)
from .core.route_classes import REQUESTED, ROUTE_CLASSES
from .costs.prices import PROVIDER_ALIASES, PriceError, validate_price_entry
from .governance import settings as governance_settings
from .routing.ladders import CHEAPER, CHEAPEST, LadderError, validate_ladder
from .routing.registry import RegistryError, validate_model_entry

CWD_CONFIG_NAMES = ("gateway.config.json", "stackbilt.gateway.json")
ENV_PORT = "STACKBILT_GATEWAY_PORT"
ENV_HOST = "STACKBILT_GATEWAY_HOST"
# Keys that look like credentials: refused anywhere in a config file, with the right advice.
_SECRET_KEYS = frozenset({"api_key", "apikey", "key", "token", "api_token", "secret", "password"})
_GATEWAY_SECRET_KEYS = frozenset({"gateway_key", "api_key", "apikey", "key", "token"})


_TOP: dict[str, Validator] = {
    "host": host_name,
    "port": int_between(1, 65535),
    "allowed_hosts": host_list,
    "max_body_bytes": int_between(1024, None),
    "log_level": log_level,
    "mode": mode_name,
    "graceful_timeout": seconds(allow_zero=True),
    "max_connections": int_between(1, 1_000_000),
}
_TIMEOUTS: dict[str, Validator] = {
    "connect": seconds(allow_zero=False),
    "first_byte": seconds(allow_zero=False),
    "idle": seconds(allow_zero=False),
    "stream_total": seconds(allow_zero=False),
    "stream_max_bytes": int_between(1024, None),
}


_PROVIDER: dict[str, Validator] = {
    "base_url": http_url,
    "enabled": boolean,
    "project": gcp_name,
    "location": gcp_name,
    "credentials_file": file_path,
    "translate_wire": translate_wire,
    "concurrency": int_between(1, 64),
}


_ROUTING: dict[str, Validator] = {
    "long_context_tokens": int_between(1_000, None),
    "allow_experimental": boolean,
    "shadow_fallback": boolean,
    "min_confidence": fraction,
    "fresh_context": lane,
    "holdout": fraction,
    "effort": effort,
}
_TELEMETRY: dict[str, Validator] = {
    "retention_days": int_between(1, 36_500),
    "store_prompts": boolean,
    "db_path": db_path,
    "otlp.endpoint": http_url,
    "otlp.headers": otlp_headers,
    "otlp.protocol": otlp_protocol,
    "otlp.timeout_seconds": seconds(allow_zero=False),
    "otlp.export_interval_seconds": seconds(allow_zero=False),
    "postgres_url": postgres_url,
}
_CACHE: dict[str, Validator] = {
    "prefix_markers": boolean,
    "responses.enabled": boolean,
    "responses.ttl_seconds": int_between(1, None),
    "responses.max_entries": int_between(1, None),
    "responses.max_bytes": int_between(1024, None),
}
_COMPACTION: dict[str, Validator] = {"max_chunks": int_between(1, 1000)}
_FLAT_SECTIONS = {
    "timeouts": _TIMEOUTS,
    "routing": _ROUTING,
    "telemetry": _TELEMETRY,
    "cache": _CACHE,
    "compaction": _COMPACTION,
}
_SECTIONS = (
    "timeouts",
    "providers",
    "model_map",
    "routing",
    "routes",
    "models",
    "prices",
    "ladders",
    "telemetry",
    "cache",
    "compaction",
)
# Objects inside a section (their keys are validated as "<section>.<object>.<key>").
_NESTED_SECTIONS = frozenset({"cache.responses", "telemetry.otlp"})
# Governance sections, each validated whole (a later layer replaces the whole section).
_GOVERNANCE_SECTIONS = ("clients", "budgets", "policies", "aliases")
_ALL_KEYS = (
    [*_TOP, *_SECTIONS]
    + [f"{section}.{k}" for section, keys in _FLAT_SECTIONS.items() for k in keys]
    + [f"providers.<name>.{k}" for k in _PROVIDER]
    + [f"routes.{c}" for c in ROUTE_CLASSES]
    + ["compaction.model"]
    + list(_GOVERNANCE_SECTIONS)
)


@dataclass
class _Layers:
    """Validated settings merged so far, plus where each dotted key came from."""

    known_providers: tuple[str, ...]
    values: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)

    def put(self, label: str, dotted: str, value: object) -> None:
        if dotted.startswith("providers."):
            parts = dotted.split(".", 2)
        elif dotted.startswith(
            (
                "timeouts.",
                "model_map.",
                "routing.",
                "routes.",
                "models.",
                "prices.",
                "ladders.",
                "telemetry.",
                "cache.",
                "compaction.",
            )
        ):
            parts = dotted.split(".", 1)  # model names may contain dots
        else:
            parts = [dotted]
        target = self.values
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
        self.origin[dotted] = label

    def set_value(self, label: str, dotted: str, raw: object, *, text: bool) -> None:
        """Validate one setting given by its dotted name and record it."""
        validator = self._validator(label, dotted)
        try:
            value = validator(raw, text)
        except Invalid as exc:
            where = f'{label}: "{dotted}"' if not text else label
            raise ConfigError(f"{where}: expected {exc}, got {show(raw)}") from None
        except InvalidAt as exc:
            raise ConfigError(f'{label}: "{exc.path}": {exc.message}') from None
        self.put(label, dotted, value)

    def _validator(self, label: str, dotted: str) -> Validator:
        head, _, rest = dotted.partition(".")
        if not rest and head in _TOP:
            return _TOP[head]
        if dotted == "compaction.model":
            return self._compaction_model
        if not rest and head in _GOVERNANCE_SECTIONS:
            return lambda value, text: self._governance(head, value)
        if head in _FLAT_SECTIONS and rest in _FLAT_SECTIONS[head]:
            return _FLAT_SECTIONS[head][rest]
        if head == "routes" and rest:
            if rest not in ROUTE_CLASSES:
                raise ConfigError(
                    f'{label}: "{dotted}": unknown route class{suggest(rest, ROUTE_CLASSES)}'
                    f" (known: {', '.join(ROUTE_CLASSES)})"
                )
            return self._route_targets
        if head == "models" and rest:
            return lambda value, text: self._model_entry(rest, value)
        if head == "prices" and rest:
            return lambda value, text: self._price_entry(rest, value)
        if head == "ladders" and rest:
            return lambda value, text: self._ladder(rest, value)
        if head == "providers" and rest:
            name, _, key = rest.partition(".")
            self._check_provider(label, name)
            if key == "translate_wire":
                self._check_openai_provider(label, dotted, name)
            if key in _PROVIDER:
                return _PROVIDER[key]
            if key.lower() in _SECRET_KEYS:
                raise ConfigError(
                    f'{label}: "{dotted}": provider keys never go in config files; store it with '
                    f"`stackbilt-gw keys set {name}` (or set it in the daemon's environment)"
                )
            known = [f"providers.{name}.{k}" for k in _PROVIDER]
            raise ConfigError(
                f'{label}: "{dotted}" is not a known setting{suggest(dotted, known)}'
                f" (known: {', '.join(known)})"
            )
        if head == "model_map" and rest:
            return self._model_target
        if not rest and head.lower() in _GATEWAY_SECRET_KEYS:
            raise ConfigError(
                f'{label}: "{dotted}": keys never go in config files; the gateway key lives in its own '
                "file (`stackbilt-gw key`) and provider keys in the keyring (`stackbilt-gw keys set`)"
            )
        return self._unknown(label, dotted)

    def _unknown(self, label: str, dotted: str) -> Validator:
        candidates = [k.replace("<name>", self._provider_guess(dotted)) for k in _ALL_KEYS]
        raise ConfigError(f'{label}: "{dotted}" is not a known setting{suggest(dotted, candidates)}')

    @staticmethod
    def _provider_guess(dotted: str) -> str:
        parts = dotted.split(".")
        return parts[1] if len(parts) > 2 else "<name>"

    @staticmethod
    def _check_openai_provider(label: str, dotted: str, name: str) -> None:
        """``translate_wire`` only means something for a provider speaking an OpenAI wire."""
        from .core.providers import builtin_providers  # registry imports this module

        if not set(builtin_providers()[name].wires) & set(TRANSLATE_WIRES):
            raise ConfigError(
                f'{label}: "{dotted}": {name} speaks no OpenAI wire; translate_wire applies only to '
                "OpenAI-compatible providers"
            )

    def _check_provider(self, label: str, name: str) -> None:
        if name not in self.known_providers:
            raise ConfigError(
                f'{label}: "providers.{name}" is not a known provider'
                f"{suggest(name, self.known_providers)} (known: {', '.join(self.known_providers)})"
            )

    def _model_target(self, value: object, text: bool) -> object:
        expected = f'"provider/model" with provider one of {", ".join(self.known_providers)}'
        if not isinstance(value, str):
            raise Invalid(expected)
        provider, sep, model = value.strip().partition("/")
        if not sep or not model or provider not in self.known_providers:
            raise Invalid(expected)
        return value.strip()

    def _governance(self, section: str, value: object) -> object:
        g = governance_settings
        try:
            if section == "clients":
                return g.parse_clients(value, self.known_providers)
            if section == "budgets":
                return g.parse_budgets(value)
            if section == "policies":
                return g.parse_policies(value, self.known_providers)
            return g.parse_aliases(value, self.known_providers)
        except g.SettingError as exc:
            raise InvalidAt(exc.path, exc.message) from None

    def _compaction_model(self, value: object, text: bool) -> object:
        if value == "auto":
            return value
        try:
            return self._model_target(value, text)
        except Invalid as exc:
            raise Invalid(f'"auto" or {exc}') from None

    def _ladder(self, name: str, value: object) -> object:
        try:
            tiers = validate_ladder(name, value)
        except LadderError as exc:
            raise InvalidAt(exc.path, exc.message) from None
        for i, tier in enumerate(tiers):
            for j, key in enumerate(tier):
                provider = key.partition("/")[0]
                if PROVIDER_ALIASES.get(provider, provider) not in self.known_providers:
                    raise InvalidAt(
                        f"ladders.{name}[{i}][{j}]",
                        f"unknown provider {provider!r} (known: {', '.join(self.known_providers)})",
                    )
        return tiers

    def _route_targets(self, value: object, text: bool) -> object:
        expected = f'a list of "provider/model" targets, "{REQUESTED}", "{CHEAPER}" or "{CHEAPEST}"'
        if not isinstance(value, list) or not value:
            raise Invalid(expected)
        out: list[str] = []
        for item in value:
            if item in (REQUESTED, CHEAPER, CHEAPEST):
                out.append(str(item))
                continue
            try:
                out.append(str(self._model_target(item, text)))
            except Invalid:
                raise Invalid(expected + f" with provider one of {', '.join(self.known_providers)}") from None
        return tuple(out)

    def _check_entry_provider(self, section: str, key: str) -> None:
        provider = key.partition("/")[0]
        if "/" in key and PROVIDER_ALIASES.get(provider, provider) not in self.known_providers:
            raise InvalidAt(
                f"{section}.{key}",
                f"unknown provider {provider!r}{suggest(provider, self.known_providers)}"
                f" (known: {', '.join(self.known_providers)})",
            )

    def _model_entry(self, key: str, value: object) -> object:
        self._check_entry_provider("models", key)
        try:
            return validate_model_entry(key, value)
        except RegistryError as exc:
            raise InvalidAt(exc.path, exc.message) from None

    def _price_entry(self, key: str, value: object) -> object:
        self._check_entry_provider("prices", key)
        try:
            validate_price_entry(key, value)
        except PriceError as exc:
            raise InvalidAt(exc.path, exc.message) from None
        assert isinstance(value, Mapping)
        return dict(value)

    def add_object(self, label: str, obj: Mapping[str, object], prefix: str = "") -> None:
        """Flatten one config file's object into dotted settings, validating each."""
        for key, raw in obj.items():
            dotted = f"{prefix}{key}"
            if not key:
                raise ConfigError(f'{label}: empty key in "{prefix.rstrip(".") or "<top>"}"')
            is_section = (
                (prefix == "" and key in _SECTIONS)
                or (prefix == "providers." and key in self.known_providers)
                or dotted in _NESTED_SECTIONS
            )
            if prefix == "providers.":
                self._check_provider(label, key)
            if is_section:
                if not isinstance(raw, dict):
                    raise ConfigError(f'{label}: "{dotted}": expected an object, got {show(raw)}')
                self.add_object(label, raw, dotted + ".")
            else:
                self.set_value(label, dotted, raw, text=False)


def _read_json(path: Path, label: str) -> Mapping[str, object]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{label}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{label}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: expected a JSON object at the top level, got {type(data).__name__}")
    return data


def _telemetry(raw: Mapping[str, Any], cwd: Path) -> TelemetrySettings:
    otlp = OtlpSettings(**{k.partition(".")[2]: v for k, v in raw.items() if k.startswith("otlp.")})
    settings = TelemetrySettings(**{k: v for k, v in raw.items() if not k.startswith("otlp.")}, otlp=otlp)
    path = settings.db_path
    if path is not None and not path.is_absolute():
        return dataclasses.replace(settings, db_path=cwd / path)
    return settings


def _cache(raw: Mapping[str, Any]) -> CacheSettings:
    nested = {k.partition(".")[2]: v for k, v in raw.items() if k.startswith("responses.")}
    return CacheSettings(
        prefix_markers=raw.get("prefix_markers", True), responses=ResponseCacheSettings(**nested)
    )


def load_config(
    *,
    cli: Mapping[str, object] | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    paths: Paths | None = None,
) -> Config:
    """Build the effective ``Config`` from every layer; raise ``ConfigError`` on any bad input."""
    from .core.providers import builtin_providers  # registry imports this module

    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    paths = resolve_paths(dict(env)) if paths is None else paths
    specs = builtin_providers()
    layers = _Layers(known_providers=tuple(sorted(specs)))
    sources: list[Path] = []

    files = [(paths.user_config_file, str(paths.user_config_file))]
    files += [(cwd / name, name) for name in CWD_CONFIG_NAMES]
    for path, label in files:
        if path.is_file():
            layers.add_object(label, _read_json(path, label))
            sources.append(path)
        elif path.exists():
            raise ConfigError(f"{label}: is not a regular file")

    for var, dotted in [(ENV_PORT, "port"), (ENV_HOST, "host")] + [
        (spec.env_base_url_var, f"providers.{name}.base_url") for name, spec in specs.items()
    ]:
        if env.get(var, "").strip():
            layers.set_value(var, dotted, env[var], text=True)

    for key, raw in (cli or {}).items():
        if raw is not None:
            layers.set_value("--" + key.replace("_", "-"), key, raw, text=True)

    values = layers.values
    defaults = Config()
    return Config(
        host=values.get("host", defaults.host),
        port=values.get("port", defaults.port),
        allowed_hosts=values.get("allowed_hosts", defaults.allowed_hosts),
        max_body_bytes=values.get("max_body_bytes", defaults.max_body_bytes),
        timeouts=Timeouts(**values.get("timeouts", {})),
        providers={name: ProviderSettings(**raw) for name, raw in values.get("providers", {}).items()},
        model_map=dict(values.get("model_map", {})),
        log_level=values.get("log_level", defaults.log_level),
        mode=values.get("mode", defaults.mode),
        graceful_timeout=values.get("graceful_timeout", defaults.graceful_timeout),
        max_connections=values.get("max_connections", defaults.max_connections),
        routing=RoutingSettings(**values.get("routing", {})),
        routes=dict(values.get("routes", {})),
        models=dict(values.get("models", {})),
        prices=dict(values.get("prices", {})),
        ladders=dict(values.get("ladders", {})),
        telemetry=_telemetry(values.get("telemetry", {}), cwd),
        cache=_cache(values.get("cache", {})),
        compaction=CompactionSettings(**values.get("compaction", {})),
        clients=values.get("clients", {}),
        budgets=values.get("budgets", BudgetsSettings()),
        policies=values.get("policies", PolicySettings()),
        aliases=values.get("aliases", {}),
        sources=tuple(sources),
    )
