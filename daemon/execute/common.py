"""Shared pieces of execution: the outcome handed back to HTTP, the per-request record,
header filtering and upstream credentials. No protocol translation here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import GatewayError, NoProviderAvailable
from ..core.ir import Usage
from ..core.providers import ProviderSpec
from ..upstream.targets import Target

log = logging.getLogger("stackbilt_gateway.request")

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# Client headers that carry credentials: never forwarded unless deliberately.
CREDENTIAL_HEADERS = frozenset({"x-api-key", "authorization"})
GATEWAY_KEY_HEADER = "x-stackbilt-gateway-key"
# Upstream response headers not relayed (the gateway's server sets its own; cookies are not ours).
DROP_RESPONSE = HOP_BY_HOP | {"date", "server", "set-cookie", "alt-svc"}


@dataclass(slots=True)
class ClientCredential:
    """A credential the client sent for the upstream itself (subscription OAuth or own key)."""

    header: str
    value: str


@dataclass(slots=True)
class RequestRecord:
    """What happened to one request; stored as telemetry at the end and logged (a failure at
    INFO, a success at DEBUG: every request is in the telemetry database already)."""

    request_id: str
    protocol: str
    client_model: str = ""
    provider: str = ""
    upstream_model: str = ""
    stream: bool = False
    status: int = 0
    usage: Usage = field(default_factory=Usage)
    error: str | None = None
    started: float = field(default_factory=time.perf_counter)
    first_byte_ms: float | None = None
    translated: bool = False
    error_kind: str | None = None
    # Routing context, filled by the pipeline (see routing.runtime / telemetry.recorder).
    context: dict[str, Any] = field(default_factory=dict)
    on_finish: Callable[[RequestRecord], None] | None = None
    done: bool = False
    # Wall-clock time and latency when the record was finished (None while in flight).
    finished_at: float | None = None
    final_latency_ms: float | None = None

    def mark_first_byte(self) -> None:
        if self.first_byte_ms is None:
            self.first_byte_ms = (time.perf_counter() - self.started) * 1000

    @property
    def latency_ms(self) -> float:
        """Milliseconds from start to finish (to now while the request is in flight)."""
        if self.final_latency_ms is not None:
            return self.final_latency_ms
        return (time.perf_counter() - self.started) * 1000

    def finish(self, status: int | None = None, error: GatewayError | None = None) -> None:
        """Close the record once: log it and hand it to ``on_finish`` (telemetry)."""
        if self.done:
            return
        self.done = True
        self.final_latency_ms = (time.perf_counter() - self.started) * 1000
        self.finished_at = time.time()
        if status is not None:
            self.status = status
        if error is not None:
            self.error = f"{error.kind}: {error.message}"
            self.error_kind = error.kind
            self.status = self.status if self.status >= 400 else error.status
        if self.on_finish is not None:
            try:
                self.on_finish(self)
            except Exception:  # telemetry must never break serving
                log.exception("recording request %s failed", self.request_id)
        level = logging.INFO if (self.error or self.status >= 400) else logging.DEBUG
        if not log.isEnabledFor(level):
            return
        u = self.usage
        log.log(
            level,
            "%s %s model=%s -> %s/%s%s status=%s ms=%.0f ttfb=%s in=%d cache_r=%d cache_w=%d out=%d%s",
            self.request_id,
            self.protocol,
            self.client_model,
            self.provider or "-",
            self.upstream_model or "-",
            " (translated)" if self.translated else "",
            self.status,
            self.latency_ms,
            f"{self.first_byte_ms:.0f}" if self.first_byte_ms is not None else "-",
            u.input_tokens,
            u.cache_read_tokens,
            u.cache_write_tokens,
            u.output_tokens,
            f" error={self.error}" if self.error else "",
        )


@dataclass(slots=True)
class Outcome:
    """What the HTTP layer sends: a whole body or a stream of chunks."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    # A relayed upstream error (status >= 400): the pipeline may still fall back.
    error: GatewayError | None = None


def forward_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Client headers for a pass-through request: everything but hop-by-hop, credentials,
    the gateway's own ``x-stackbilt-*`` headers and ``accept-encoding`` (identity is asked so
    the relayed stream can be tapped)."""
    out: list[tuple[str, str]] = []
    for name, value in headers:
        low = name.lower()
        if low in HOP_BY_HOP or low in CREDENTIAL_HEADERS or low.startswith("x-stackbilt-"):
            continue
        if low == "accept-encoding":
            continue
        out.append((name, value))
    out.append(("accept-encoding", "identity"))
    return out


def relay_response_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() not in DROP_RESPONSE]


def require_base_url(target: Target) -> str:
    if "{account_id}" in target.base_url:
        env_name = target.spec.account_env or "the account id"
        raise NoProviderAvailable(
            f"provider {target.spec.name} needs an account id: set {env_name} for the daemon "
            f"or providers.{target.spec.name}.base_url in the config file",
            provider=target.spec.name,
        )
    return target.base_url


def missing_key_error(spec: ProviderSpec) -> NoProviderAvailable:
    env_names = " or ".join(spec.key_env) or "its key variable"
    return NoProviderAvailable(
        f"no API key for provider {spec.name}: run `stackbilt-gw keys set {spec.name}` "
        f"or set {env_names} in the daemon's environment",
        provider=spec.name,
    )


def auth_headers(spec: ProviderSpec, key: str | None) -> list[tuple[str, str]]:
    if not key or spec.auth == "none":
        return []
    if spec.auth == "x-api-key":
        return [("x-api-key", key)]
    return [("authorization", f"Bearer {key}")]
