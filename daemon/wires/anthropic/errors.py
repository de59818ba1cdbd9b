"""The Anthropic error shape in both directions (protocols.md §1.7). The one place for each.

Upstream → hierarchy: ``anthropic_error`` maps an Anthropic error response (status, ``error.type``,
spend-limit code, ``retry-after``/``retry-after-ms`` through ``wires.retry_after``).
Hierarchy → client: ``GatewayError`` → the Anthropic error shape, below.

Owns the status → ``error.type`` table, the ``retry-after`` header and the body
``{"type":"error","error":{"type","message"}}``. Does not decide statuses (the error does) and
does not write HTTP responses (the HTTP layer does).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from ...core.errors import GatewayError, UpstreamError, from_upstream_status
from ..retry_after import retry_after_seconds

_MAX_ERROR_TEXT = 1000

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


def anthropic_error(status: int, body: bytes, headers: Mapping[str, str], provider: str) -> UpstreamError:
    """An Anthropic error response → the error hierarchy (status, message, ``error.type`` kept).

    ``retry-after-ms``/``retry-after`` become ``retry_after``; a spend-limit 429 keeps its
    ``enforced_spend_limit_reached`` code so nobody retries it.
    """
    text = body.decode("utf-8", errors="replace").strip()
    try:
        payload = json.loads(text) if text else None
    except ValueError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    upstream_type: str | None = None
    upstream_code: str | None = None
    message = text[:_MAX_ERROR_TEXT]
    if isinstance(error, dict):
        if isinstance(error.get("message"), str) and error["message"]:
            message = error["message"]
        upstream_type = error.get("type") if isinstance(error.get("type"), str) else None
        details = error.get("details")
        code = details.get("error_code") if isinstance(details, dict) else None
        upstream_code = code if isinstance(code, str) else None
    return from_upstream_status(
        status,
        message or f"{provider} returned HTTP {status}",
        retry_after=retry_after_seconds(headers),
        provider=provider,
        upstream_type=upstream_type,
        upstream_code=upstream_code,
    )
