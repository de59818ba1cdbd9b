"""Loading and validating the configuration layers into a ``Config``.

Layers, lowest first: dataclass defaults < user config file (``<config_dir>/config.json``) <
``gateway.config.json`` / ``stackbilt.gateway.json`` in the working directory < environment
(``STACKBILT_GATEWAY_PORT``, ``STACKBILT_GATEWAY_HOST``, ``STACKBILT_<NAME>_BASE_URL``) <
CLI flags. Unknown keys and bad values raise ``ConfigError`` naming the file and the dotted key.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
    mask_url_password,
)
from .core.route_classes import REQUESTED, ROUTE_CLASSES
from .costs.prices import PROVIDER_ALIASES, PriceError, validate_price_entry
from .governance import settings as governance_settings
from .routing.ladders import CHEAPER, CHEAPEST, LadderError, validate_ladder
from .routing.registry import RegistryError, validate_model_entry

CWD_CONFIG_NAMES = ("gateway.config.json", "stackbilt.gateway.json")
ENV_PORT = "STACKBILT_GATEWAY_PORT"
ENV_HOST = "STACKBILT_GATEWAY_HOST"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# Keys that look like credentials: refused anywhere in a config file, with the right advice.
_SECRET_KEYS = frozenset({"api_key", "apikey", "key", "token", "api_token", "secret", "password"})
_GATEWAY_SECRET_KEYS = frozenset({"gateway_key", "api_key", "apikey", "key", "token"})


class _Invalid(Exception):
    """Raised by a validator; the text says what was expected."""


Validator = Callable[[object, bool], object]
"""(raw value, came from text such as env/CLI) -> converted value, or raise ``_Invalid``."""


def _show(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _int_between(lo: int, hi: int | None) -> Validator:
    expected = f"an integer {lo}-{hi}" if hi is not None else f"an integer >= {lo}"

    def check(value: object, text: bool) -> object:
        if text and isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise _Invalid(expected) from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(expected)
        if value < lo or (hi is not None and value > hi):
            raise _Invalid(expected)
        return value

    return check


def _seconds(*, allow_zero: bool) -> Validator:
    expected = "a number of seconds >= 0" if allow_zero else "a number of seconds > 0"

    def check(value: object, text: bool) -> object:
        if text and isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise _Invalid(expected) from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Invalid(expected)
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise _Invalid(expected)
        if number < 0 or (number == 0 and not allow_zero):
            raise _Invalid(expected)
        return number

    return check


def _bool(value: object, text: bool) -> object:
    if text and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
    if not isinstance(value, bool):
        raise _Invalid("true or false")
    return value


def _host(value: object, text: bool) -> object:
    expected = "a host name or IP address"
    if not isinstance(value, str):
        raise _Invalid(expected)
    host = value.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or any(c.isspace() or c in "/?#@" for c in host):
        raise _Invalid(expected)
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _Invalid(expected + " (IPv6 literals without a port)") from None
    return host


def _host_list(value: object, text: bool) -> object:
    if text and isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise _Invalid("a list of host names")
    try:
        return tuple(str(_host(item, text)).lower() for item in value)
    except _Invalid:
        raise _Invalid("a list of host names") from None


def _log_level(value: object, text: bool) -> object:
    if not isinstance(value, str) or value.strip().lower() not in LOG_LEVELS:
        raise _Invalid("one of " + ", ".join(LOG_LEVELS))
    return value.strip().lower()


def _mode(value: object, text: bool) -> object:
    if value not in ("shadow", "live"):
        raise _Invalid('"shadow" or "live"')
    return value


def _fraction(value: object, text: bool) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _Invalid("a number from 0 to 1")
    return float(value)


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _otlp_headers(value: object, text: bool) -> object:
    """``{"name": "value"}``: HTTP header names, values without line breaks."""
    expected = 'an object of header names to text values, e.g. {"x-team": "ops"}'
    if not isinstance(value, dict):
        raise _Invalid(expected)
    for name, item in value.items():
        if not _HEADER_NAME.fullmatch(name) or not isinstance(item, str) or "\r" in item or "\n" in item:
            raise _Invalid(expected)
    return {str(name): str(item) for name, item in value.items()}


def _otlp_protocol(value: object, text: bool) -> object:
    if value != "http/protobuf":
        raise _Invalid('"http/protobuf" (the only OTLP protocol supported)')
    return value


_DB_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def _db_path(value: object, text: bool) -> object:
    expected = "a path to a .sqlite / .sqlite3 / .db file"
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(expected)
    path = Path(value.strip()).expanduser()
    if path.suffix.lower() not in _DB_SUFFIXES:
        raise _Invalid(expected)
    return path


def _url(value: object, text: bool) -> object:
    expected = "an http:// or https:// URL"
    if value is None and not text:
        return None
    if not isinstance(value, str):
        raise _Invalid(expected)
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _Invalid(expected)
    return value.strip().rstrip("/")


_PG_SCHEMES = ("postgresql", "postgres")


def _postgres_url(value: object, text: bool) -> object:
    """A libpq URL (``postgresql://user:password@host:5432/db``). The error never shows the
    value itself, only its masked form: the URL may carry a password."""
    key = "telemetry.postgres_url"
    if value is None and not text:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _InvalidAt(key, 'expected a PostgreSQL URL such as "postgresql://user@host:5432/db"')
    url = value.strip()
    shown = json.dumps(mask_url_password(url))
    expected = f'expected a PostgreSQL URL such as "postgresql://user@host:5432/db", got {shown}'
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _InvalidAt(key, expected + " (a malformed host or port)") from None
    if parts.scheme not in _PG_SCHEMES:  # maybe not a URL at all: the value is not shown
        scheme = f"{parts.scheme}://" if parts.scheme and "://" in url else "no scheme"
        raise _InvalidAt(
            key,
            'expected a PostgreSQL URL such as "postgresql://user@host:5432/db" '
            f"(the scheme must be postgresql://, got {scheme})",
        )
    if not parts.hostname and "host=" not in parts.query:
        raise _InvalidAt(key, expected + " (no host)")
    if port == 0 or any(c.isspace() for c in url):
        raise _InvalidAt(key, expected)
    return url


_TOP: dict[str, Validator] = {
    "host": _host,
    "port": _int_between(1, 65535),
    "allowed_hosts": _host_list,
    "max_body_bytes": _int_between(1024, None),
    "log_level": _log_level,
    "mode": _mode,
    "graceful_timeout": _seconds(allow_zero=True),
    "max_connections": _int_between(1, 1_000_000),
}
_TIMEOUTS: dict[str, Validator] = {
    "connect": _seconds(allow_zero=False),
    "first_byte": _seconds(allow_zero=False),
    "idle": _seconds(allow_zero=False),
    "stream_total": _seconds(allow_zero=False),
    "stream_max_bytes": _int_between(1024, None),
}
_GCP_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def _gcp_name(value: object, text: bool) -> object:
    """A Google Cloud project id or location (``my-project``, ``us-central1``, ``global``)."""
    if not isinstance(value, str) or not _GCP_NAME.fullmatch(value.strip()):
        raise _Invalid("a Google Cloud name (lower-case letters, digits and dashes)")
    return value.strip()


def _file_path(value: object, text: bool) -> object:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("a file path")
    return str(Path(value.strip()).expanduser())


TRANSLATE_WIRES = ("responses", "chat")


def _translate_wire(value: object, text: bool) -> object:
    if value not in TRANSLATE_WIRES:
        raise _Invalid('"responses" or "chat"')
    return value


_PROVIDER: dict[str, Validator] = {
    "base_url": _url,
    "enabled": _bool,
    "project": _gcp_name,
    "location": _gcp_name,
    "credentials_file": _file_path,
    "translate_wire": _translate_wire,
    "concurrency": _int_between(1, 64),
}


def _lane(value: object, text: bool) -> object:
    if value not in ("cheaper", "cheapest", "off"):
        raise _Invalid('"cheaper", "cheapest" or "off"')
    return value


_EFFORTS = ("minimal", "low", "medium")


def _effort(value: object, text: bool) -> object:
    expected = f'an object of route class -> effort ({", ".join(_EFFORTS)}), e.g. {{"cheap_edit": "low"}}'
    if not isinstance(value, dict):
        raise _Invalid(expected)
    for name, effort in value.items():
        if name not in ROUTE_CLASSES:
            raise _InvalidAt(
                f"routing.effort.{name}",
                f"unknown route class{_suggest(str(name), ROUTE_CLASSES)}"
                f" (known: {', '.join(ROUTE_CLASSES)})",
            )
        if effort not in _EFFORTS:
            raise _InvalidAt(
                f"routing.effort.{name}", f"expected one of {', '.join(_EFFORTS)}, got {_show(effort)}"
            )
    return {str(k): str(v) for k, v in value.items()}


_ROUTING: dict[str, Validator] = {
    "long_context_tokens": _int_between(1_000, None),
    "allow_experimental": _bool,
    "shadow_fallback": _bool,
    "min_confidence": _fraction,
    "fresh_context": _lane,
    "holdout": _fraction,
    "effort": _effort,
}
_TELEMETRY: dict[str, Validator] = {
    "retention_days": _int_between(1, 36_500),
    "store_prompts": _bool,
    "db_path": _db_path,
    "otlp.endpoint": _url,
    "otlp.headers": _otlp_headers,
    "otlp.protocol": _otlp_protocol,
    "otlp.timeout_seconds": _seconds(allow_zero=False),
    "otlp.export_interval_seconds": _seconds(allow_zero=False),
    "postgres_url": _postgres_url,
}
_CACHE: dict[str, Validator] = {
    "prefix_markers": _bool,
    "responses.enabled": _bool,
    "responses.ttl_seconds": _int_between(1, None),
    "responses.max_entries": _int_between(1, None),
    "responses.max_bytes": _int_between(1024, None),
}
_COMPACTION: dict[str, Validator] = {"max_chunks": _int_between(1, 1000)}
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


class _InvalidAt(Exception):
    """Raised by a validator of a nested object: ``path`` names the exact field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _suggest(dotted: str, candidates: Iterable[str]) -> str:
    match = difflib.get_close_matches(dotted, list(candidates), n=1, cutoff=0.6)
    return f' (did you mean "{match[0]}"?)' if match else ""


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
        except _Invalid as exc:
            where = f'{label}: "{dotted}"' if not text else label
            raise ConfigError(f"{where}: expected {exc}, got {_show(raw)}") from None
        except _InvalidAt as exc:
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
                    f'{label}: "{dotted}": unknown route class{_suggest(rest, ROUTE_CLASSES)}'
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
                f'{label}: "{dotted}" is not a known setting{_suggest(dotted, known)}'
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
        raise ConfigError(f'{label}: "{dotted}" is not a known setting{_suggest(dotted, candidates)}')

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
                f"{_suggest(name, self.known_providers)} (known: {', '.join(self.known_providers)})"
            )

    def _model_target(self, value: object, text: bool) -> object:
        expected = f'"provider/model" with provider one of {", ".join(self.known_providers)}'
        if not isinstance(value, str):
            raise _Invalid(expected)
        provider, sep, model = value.strip().partition("/")
        if not sep or not model or provider not in self.known_providers:
            raise _Invalid(expected)
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
            raise _InvalidAt(exc.path, exc.message) from None

    def _compaction_model(self, value: object, text: bool) -> object:
        if value == "auto":
            return value
        try:
            return self._model_target(value, text)
        except _Invalid as exc:
            raise _Invalid(f'"auto" or {exc}') from None

    def _ladder(self, name: str, value: object) -> object:
        try:
            tiers = validate_ladder(name, value)
        except LadderError as exc:
            raise _InvalidAt(exc.path, exc.message) from None
        for i, tier in enumerate(tiers):
            for j, key in enumerate(tier):
                provider = key.partition("/")[0]
                if PROVIDER_ALIASES.get(provider, provider) not in self.known_providers:
                    raise _InvalidAt(
                        f"ladders.{name}[{i}][{j}]",
                        f"unknown provider {provider!r} (known: {', '.join(self.known_providers)})",
                    )
        return tiers

    def _route_targets(self, value: object, text: bool) -> object:
        expected = f'a list of "provider/model" targets, "{REQUESTED}", "{CHEAPER}" or "{CHEAPEST}"'
        if not isinstance(value, list) or not value:
            raise _Invalid(expected)
        out: list[str] = []
        for item in value:
            if item in (REQUESTED, CHEAPER, CHEAPEST):
                out.append(str(item))
                continue
            try:
                out.append(str(self._model_target(item, text)))
            except _Invalid:
                raise _Invalid(
                    expected + f" with provider one of {', '.join(self.known_providers)}"
                ) from None
        return tuple(out)

    def _check_entry_provider(self, section: str, key: str) -> None:
        provider = key.partition("/")[0]
        if "/" in key and PROVIDER_ALIASES.get(provider, provider) not in self.known_providers:
            raise _InvalidAt(
                f"{section}.{key}",
                f"unknown provider {provider!r}{_suggest(provider, self.known_providers)}"
                f" (known: {', '.join(self.known_providers)})",
            )

    def _model_entry(self, key: str, value: object) -> object:
        self._check_entry_provider("models", key)
        try:
            return validate_model_entry(key, value)
        except RegistryError as exc:
            raise _InvalidAt(exc.path, exc.message) from None

    def _price_entry(self, key: str, value: object) -> object:
        self._check_entry_provider("prices", key)
        try:
            validate_price_entry(key, value)
        except PriceError as exc:
            raise _InvalidAt(exc.path, exc.message) from None
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
                    raise ConfigError(f'{label}: "{dotted}": expected an object, got {_show(raw)}')
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
