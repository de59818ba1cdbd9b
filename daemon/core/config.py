"""Typed gateway configuration: the frozen ``Config`` and its sections.

Loaded once per process by ``config_load.load_config`` (defaults < user config file <
``gateway.config.json`` / ``stackbilt.gateway.json`` in the working directory < environment <
CLI flags). Secrets never live here: the gateway key is in its own file (``gatewaykey``),
provider keys in the keyring (``secrets``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 8787
DEFAULT_MAX_BODY = 32 * 1024 * 1024
# Open client connections at most (half the common 1 024-descriptor limit).
DEFAULT_MAX_CONNECTIONS = 512
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
    # Vertex AI: the Google Cloud project and location, and the service-account JSON file
    # (GOOGLE_APPLICATION_CREDENTIALS when unset).
    project: str | None = None
    location: str | None = None
    credentials_file: str | None = None
    # OpenAI-compatible providers: the wire requests from other protocols are translated onto,
    # "responses" or "chat" (None: the provider's default, ``providers.json``).
    translate_wire: str | None = None
    # The Claude Code CLI bridge (claude-cli): how many CLI runs at once (None: 2); more wait.
    concurrency: int | None = None


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
    # The fresh-context lane (subagent runs, titles, topic checks) in live mode: the requested
    # model's "cheaper" tier (one down its ladder), its "cheapest" tier, or "off".
    fresh_context: str = "cheaper"
    # The share of sessions served as requested in live mode (the holdout routing is judged by).
    holdout: float = 0.1
    # Route class -> the effort a request of that class is lowered to on the same model
    # ("low", "medium"), where the client asked for more (docs/routing.md, "Lower effort").
    effort: dict[str, str] = field(default_factory=dict)


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


def mask_url_password(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part and of a ``password=`` query
    parameter replaced by ``***`` (for status lines and logs; the rest is kept)."""
    scheme, sep, rest = url.partition("://")
    if sep:
        netloc, slash, tail = rest.partition("/")
        userinfo, at, host = netloc.rpartition("@")
        if at and ":" in userinfo:
            netloc = userinfo.partition(":")[0] + ":***@" + host
        url = scheme + sep + netloc + slash + tail
    return re.sub(r"(?i)(\bpassword=)[^&\s]*", r"\1***", url)


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    retention_days: int = 90
    # Store (redacted) prompt text with each event. Off unless the user opts in.
    store_prompts: bool = False
    # Database file instead of <data_dir>/telemetry.sqlite (relative paths: from the working dir).
    db_path: Path | None = None
    otlp: OtlpSettings = field(default_factory=OtlpSettings)
    # The shared team ledger: "postgresql://user:password@host:5432/db" (docs/teams.md). None: off.
    # Kept out of repr; shown only through ``postgres_url_shown`` (password masked).
    postgres_url: str | None = field(default=None, repr=False)

    @property
    def postgres_url_shown(self) -> str | None:
        """``postgres_url`` with its password (and any ``password=`` parameter) masked."""
        return mask_url_password(self.postgres_url) if self.postgres_url else None


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


BUDGET_ACTIONS = ("warn", "degrade", "block")


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """``clients.<name>``: one named client's limits, budget and allow-lists (None: unlimited/any).

    Merged over what ``stackbilt-gw clients add`` stored for the client (the config wins)."""

    rpm: int | None = None
    tpm: int | None = None
    concurrency: int | None = None
    budget_daily_usd: float | None = None
    budget_monthly_usd: float | None = None
    budget_action: str = "block"
    providers: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class BudgetSettings:
    """One budget (``budgets.total``, ``budgets.repos.<path>``): USD per day and per month."""

    daily_usd: float | None = None
    monthly_usd: float | None = None
    action: str = "block"


@dataclass(frozen=True, slots=True)
class BudgetsSettings:
    total: BudgetSettings = field(default_factory=BudgetSettings)
    # Repository path (as the launchers attribute it) -> its budget.
    repos: dict[str, BudgetSettings] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """``policies``: refusals by rule (docs in README "Teams and governance")."""

    disabled_aliases: tuple[str, ...] = ()
    require_client_id: bool = False
    # Prompts estimated above this many tokens are refused. None: no limit.
    max_prompt_tokens: int | None = None
    # Repository path -> the only providers its requests may reach (a data-retention rule).
    repos: dict[str, tuple[str, ...]] = field(default_factory=dict)


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
    # Open client connections at most; one more is answered 503 and closed at once (keep it well
    # under the file-descriptor limit: ``stackbilt-gw doctor`` checks).
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    # Route class -> ordered "provider/model" targets ("requested" = the client's model);
    # replaces the default list of each class it names.
    routes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # "provider/model" -> compatibility-registry fields (routing.registry.MODEL_FIELDS).
    models: dict[str, dict[str, object]] = field(default_factory=dict)
    # "provider/model" -> price fields (costs.prices.PRICE_FIELDS), USD per million tokens.
    prices: dict[str, dict[str, object]] = field(default_factory=dict)
    # Tier ladders replacing or adding families of data/ladders.json: name -> tiers.
    ladders: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    compaction: CompactionSettings = field(default_factory=CompactionSettings)
    # Governance: named clients, budgets, policies, and model aliases ("alias" -> "provider/model").
    clients: dict[str, ClientSettings] = field(default_factory=dict)
    budgets: BudgetsSettings = field(default_factory=BudgetsSettings)
    policies: PolicySettings = field(default_factory=PolicySettings)
    aliases: dict[str, str] = field(default_factory=dict)
    # Files that contributed, lowest precedence first (for `status` and error messages).
    sources: tuple[Path, ...] = ()


# --------------------------------------------------------------------------------------------
# Loader
# --------------------------------------------------------------------------------------------


class ConfigError(Exception):
    """A configuration value is missing, unknown or malformed; the message names where and why."""
