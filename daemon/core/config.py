"""Typed gateway configuration: the frozen ``Config`` and its sections.

Loaded once per process by ``config_load.load_config`` (defaults < user config file <
``gateway.config.json`` / ``stackbilt.gateway.json`` in the working directory < environment <
CLI flags). Secrets never live here: the gateway key is in its own file (``gatewaykey``),
provider keys in the keyring (``secrets``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 8787
DEFAULT_MAX_BODY = 32 * 1024 * 1024
# Fixed bounds on what one upstream response may make the gateway buffer (a hostile or broken
# peer): one SSE line or event, and one tool call's arguments (characters).
MAX_SSE_EVENT_BYTES = 16 * 1024 * 1024
MAX_TOOL_ARGUMENT_CHARS = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Upstream timeouts in seconds, and the bounds of one upstream response body."""

    connect: float = 10.0
    # Until the upstream's response headers arrive (long thinking turns can be slow).
    first_byte: float = 600.0
    # Between two chunks of a streaming body.
    idle: float = 300.0
    # The whole body of one response, from its headers to its last byte (a stream that keeps
    # sending is cut here, with the client protocol's error event).
    stream_total: float = 1800.0
    # The most bytes one response body may carry (a stream past it is cut the same way).
    stream_max_bytes: int = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    base_url: str | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    """Classifier and policy knobs (docs/routing.md)."""

    # Requests estimated at or above this many tokens are `long_context`.
    long_context_tokens: int = 100_000
    # Let tool-carrying turns go to models whose safety flag is "experimental".
    allow_experimental: bool = False
    # In shadow mode, also fail over to other models of the requested provider.
    shadow_fallback: bool = False
    # Decisions below this confidence route like `fallback_safe`.
    min_confidence: float = 0.5


@dataclass(frozen=True, slots=True)
class OtlpSettings:
    """OpenTelemetry export of each request's span and the GenAI metrics (off unless ``endpoint``)."""

    # The collector's OTLP/HTTP base URL (``/v1/traces`` and ``/v1/metrics`` are appended),
    # e.g. "http://127.0.0.1:4318". None: no export.
    endpoint: str | None = None
    # Extra request headers (a vendor's auth header: better in OTEL_EXPORTER_OTLP_HEADERS, which
    # is merged in; values are redacted from logs).
    headers: dict[str, str] = field(default_factory=dict)
    # The only protocol supported: protobuf over HTTP.
    protocol: str = "http/protobuf"
    # The longest one export may take, retries included; then that batch is dropped.
    timeout_seconds: float = 3.0
    # Seconds between two metric exports.
    export_interval_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    retention_days: int = 90
    # Store (redacted) prompt text with each event. Off unless the user opts in.
    store_prompts: bool = False
    # Database file instead of <data_dir>/telemetry.sqlite (relative paths: from the working dir).
    db_path: Path | None = None
    otlp: OtlpSettings = field(default_factory=OtlpSettings)


@dataclass(frozen=True, slots=True)
class ResponseCacheSettings:
    """The exact-match response cache (off by default; docs/caching.md)."""

    enabled: bool = False
    ttl_seconds: int = 3600
    max_entries: int = 1000
    # Total size of the stored responses.
    max_bytes: int = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CacheSettings:
    # Mark stable prefixes with cache_control (Anthropic) / set prompt_cache_key (OpenAI) when
    # the client did not.
    prefix_markers: bool = True
    responses: ResponseCacheSettings = field(default_factory=ResponseCacheSettings)


@dataclass(frozen=True, slots=True)
class CompactionSettings:
    """``POST /v1/context/compact``: which model summarises, and how many chunks at most."""

    # "auto" (the cheapest configured, healthy model with a window of at least 16k tokens) or
    # "provider/model".
    model: str = "auto"
    max_chunks: int = 32


@dataclass(frozen=True, slots=True)
class Config:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    # Extra Host header names accepted besides loopback names (e.g. behind a local proxy).
    allowed_hosts: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY
    timeouts: Timeouts = field(default_factory=Timeouts)
    providers: dict[str, ProviderSettings] = field(default_factory=dict)
    # Client model name -> "provider/model" (applies before prefix rules).
    model_map: dict[str, str] = field(default_factory=dict)
    log_level: str = "info"
    # Routing mode on a first run; afterwards the last switch (persisted) wins.
    mode: str = "shadow"
    # Seconds the daemon waits for in-flight streams on shutdown.
    graceful_timeout: float = 60.0
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    # Route class -> ordered "provider/model" targets ("requested" = the client's model);
    # replaces the default list of each class it names.
    routes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # "provider/model" -> compatibility-registry fields (routing.registry.MODEL_FIELDS).
    models: dict[str, dict[str, object]] = field(default_factory=dict)
    # "provider/model" -> price fields (costs.prices.PRICE_FIELDS), USD per million tokens.
    prices: dict[str, dict[str, object]] = field(default_factory=dict)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    compaction: CompactionSettings = field(default_factory=CompactionSettings)
    # Files that contributed, lowest precedence first (for `status` and error messages).
    sources: tuple[Path, ...] = ()


# --------------------------------------------------------------------------------------------
# Loader
# --------------------------------------------------------------------------------------------


class ConfigError(Exception):
    """A configuration value is missing, unknown or malformed; the message names where and why."""
