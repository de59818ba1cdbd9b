"""The gateway's one error hierarchy.

Every failure the gateway reports is one of these. Providers translate upstream failures into
it once, at their boundary; each client adapter renders it once in its own protocol's shape.
No module matches on error message text.

GatewayError
├── InvalidRequest            400  the client's request is malformed or unsupported
├── AuthenticationFailed      401  missing or wrong gateway key, or no usable upstream credential
├── PermissionDenied          403  forbidden Host/Origin, or the upstream said 403
├── NotFound                  404  unknown path or resource
│   └── UnknownModel          404  no provider/model resolves from the requested name
├── RequestTooLarge           413  body over the configured limit
├── NoProviderAvailable       503  every candidate is unconfigured or unhealthy
├── InternalError             500  a bug in the gateway
└── UpstreamError                  the upstream provider failed
    ├── RateLimited           429  (keeps retry-after)
    ├── UpstreamOverloaded    529
    ├── UpstreamTimeout       504  connect / first byte / idle timeout
    ├── UpstreamUnavailable   502  connection refused, reset, DNS, TLS
    ├── UpstreamProtocolError 502  the upstream answered something we cannot parse
    ├── UpstreamServerError   5xx  the upstream's own 5xx (status kept)
    └── UpstreamRejected      4xx  the upstream refused the request (status kept)
"""

from __future__ import annotations

from typing import ClassVar, Literal

ErrorKind = Literal[
    "invalid_request",
    "authentication",
    "permission",
    "not_found",
    "unknown_model",
    "too_large",
    "no_provider",
    "internal",
    "rate_limited",
    "overloaded",
    "upstream_timeout",
    "upstream_unavailable",
    "upstream_protocol",
    "upstream_server",
    "upstream_rejected",
]


class GatewayError(Exception):
    kind: ClassVar[ErrorKind] = "internal"
    default_status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        provider: str | None = None,
        upstream_type: str | None = None,
        upstream_code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status if status is not None else self.default_status
        self.retry_after = retry_after
        self.provider = provider
        # The upstream's own error type/code strings, kept so they reach the client intact.
        self.upstream_type = upstream_type
        self.upstream_code = upstream_code
        self.param = param

    @property
    def retryable(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status})"


class InvalidRequest(GatewayError):
    kind = "invalid_request"
    default_status = 400


class AuthenticationFailed(GatewayError):
    kind = "authentication"
    default_status = 401


class PermissionDenied(GatewayError):
    kind = "permission"
    default_status = 403


class NotFound(GatewayError):
    kind: ClassVar[ErrorKind] = "not_found"
    default_status = 404


class UnknownModel(NotFound):
    kind = "unknown_model"


class RequestTooLarge(GatewayError):
    kind = "too_large"
    default_status = 413


class NoProviderAvailable(GatewayError):
    kind = "no_provider"
    default_status = 503

    @property
    def retryable(self) -> bool:
        return True


class InternalError(GatewayError):
    kind = "internal"
    default_status = 500


class UpstreamError(GatewayError):
    """Base of failures that come from the upstream provider."""

    kind: ClassVar[ErrorKind] = "upstream_server"
    default_status = 502

    @property
    def retryable(self) -> bool:
        return True


class RateLimited(UpstreamError):
    kind = "rate_limited"
    default_status = 429


class UpstreamOverloaded(UpstreamError):
    kind = "overloaded"
    default_status = 529


class UpstreamTimeout(UpstreamError):
    kind = "upstream_timeout"
    default_status = 504


class UpstreamUnavailable(UpstreamError):
    kind = "upstream_unavailable"
    default_status = 502


class UpstreamProtocolError(UpstreamError):
    kind = "upstream_protocol"
    default_status = 502


class UpstreamServerError(UpstreamError):
    kind = "upstream_server"
    default_status = 500


class UpstreamRejected(UpstreamError):
    kind = "upstream_rejected"
    default_status = 400

    @property
    def retryable(self) -> bool:
        return False


ALL_ERRORS: tuple[type[GatewayError], ...] = (
    InvalidRequest,
    AuthenticationFailed,
    PermissionDenied,
    NotFound,
    UnknownModel,
    RequestTooLarge,
    NoProviderAvailable,
    InternalError,
    RateLimited,
    UpstreamOverloaded,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamProtocolError,
    UpstreamServerError,
    UpstreamRejected,
)


def from_upstream_status(
    status: int,
    message: str,
    *,
    retry_after: float | None = None,
    provider: str | None = None,
    upstream_type: str | None = None,
    upstream_code: str | None = None,
) -> UpstreamError:
    """Map an upstream HTTP error status to the hierarchy (message and status kept)."""
    cls: type[UpstreamError]
    if status == 429:
        cls = RateLimited
    elif status == 529:
        cls = UpstreamOverloaded
    elif status in (408, 504):
        cls = UpstreamTimeout
    elif status >= 500:
        cls = UpstreamServerError
    else:
        cls = UpstreamRejected
    return cls(
        message,
        status=status,
        retry_after=retry_after,
        provider=provider,
        upstream_type=upstream_type,
        upstream_code=upstream_code,
    )
