"""``GatewayError`` → the Anthropic error shape (protocols.md §1.7). The one place that does it.

Owns the status → ``error.type`` table, the ``retry-after`` header and the body
``{"type":"error","error":{"type","message"}}``. Does not decide statuses (the error does) and
does not write HTTP responses (the HTTP layer does).
"""

from __future__ import annotations

import math

from ...core.errors import GatewayError

ANTHROPIC_ERROR_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "billing_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "timeout_error",
        "overloaded_error",
    }
)
_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_type_for(err: BaseException) -> str:
    """The Anthropic ``error.type`` for an error (also used by the stream ``error`` event)."""
    if not isinstance(err, GatewayError):
        return "api_error"
    if err.upstream_type in ANTHROPIC_ERROR_TYPES:
        return err.upstream_type
    if err.status in _BY_STATUS:
        return _BY_STATUS[err.status]
    return "invalid_request_error" if 400 <= err.status < 500 else "api_error"


def render_error(
    err: GatewayError, *, request_id: str | None = None
) -> tuple[int, dict[str, str], dict[str, object]]:
    """(HTTP status, extra headers, body) for an error answered to an Anthropic client."""
    headers: dict[str, str] = {}
    if err.retry_after is not None and err.retry_after >= 0:
        headers["retry-after"] = str(math.ceil(err.retry_after))
    body: dict[str, object] = {
        "type": "error",
        "error": {"type": error_type_for(err), "message": err.message},
    }
    if request_id is not None:
        body["request_id"] = request_id
    return err.status, headers, body
