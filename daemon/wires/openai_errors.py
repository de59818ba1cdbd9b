"""The OpenAI error shape in both directions, for Responses and Chat Completions alike.

Upstream → hierarchy: ``openai_error`` maps an upstream error response (status, body,
``retry-after``/``retry-after-ms`` through ``retry_after``) and ``error_from_payload`` an in-body or
in-stream ``error`` object. Hierarchy → client: ``render_openai_error`` below.

``GatewayError`` → the OpenAI error shape, for Responses and Chat Completions clients alike.

Owns the status → ``type``/``code`` table, the one status rewrite (529 → 503) and the
``retry-after`` rules (protocols.md §2.1, §3.5, CLIENTS.md Codex). Body:
``{"error": {"message", "type", "param", "code"}}``. Does not decide statuses (the error does)
and does not write HTTP responses (the HTTP layer does). Also owns the ``error.code`` used in a
Responses ``response.failed`` event, which Codex reads to decide whether to retry.

Rules worth knowing:

- 529 (``UpstreamOverloaded``) is answered as **503** ``server_error`` with code
  ``server_is_overloaded``: OpenAI clients do not know 529, and Codex recognises that code on a
  503 as "server overloaded" (retried).
- A 429 always carries ``retry-after``: Codex retries a 429 only when the header is present, so a
  ``RateLimited`` without ``retry_after`` gets ``retry-after: 1`` — except quota exhaustion
  (``insufficient_quota``), which must not be retried.
- ``retry-after`` is integer seconds, rounded up, whenever ``err.retry_after`` is set.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from ..core.errors import (
    GatewayError,
    RateLimited,
    UnknownModel,
    UpstreamError,
    UpstreamOverloaded,
    from_upstream_status,
)
from .retry_after import retry_after_seconds

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}
_CODE_BY_STATUS = {401: "invalid_api_key", 413: "request_too_large", 429: "rate_limit_exceeded"}
_NO_RETRY_CODES = frozenset({"insufficient_quota", "enforced_spend_limit_reached"})
OVERLOADED_CODE = "server_is_overloaded"
CONTEXT_CODE = "context_length_exceeded"


def _status(err: GatewayError) -> int:
    if isinstance(err, UpstreamOverloaded) or err.status == 529:
        return 503
    return err.status


def _type_and_code(err: GatewayError, status: int) -> tuple[str, str | None]:
    if isinstance(err, UpstreamOverloaded) or err.status == 529:
        return "server_error", OVERLOADED_CODE
    if status >= 500:
        return "server_error", err.upstream_code
    kind = _TYPE_BY_STATUS.get(status, "invalid_request_error")
    if isinstance(err, UnknownModel):
        return kind, "model_not_found"
    return kind, err.upstream_code or _CODE_BY_STATUS.get(status)


def _no_retry(err: GatewayError) -> bool:
    return err.upstream_code in _NO_RETRY_CODES or err.upstream_type in _NO_RETRY_CODES


def retry_after_header(err: GatewayError) -> str | None:
    """The ``retry-after`` value (integer seconds, rounded up) for this error, or None."""
    if err.retry_after is not None and err.retry_after >= 0:
        return str(math.ceil(err.retry_after))
    if (isinstance(err, RateLimited) or err.status == 429) and not _no_retry(err):
        return "1"
    return None


def render_openai_error(err: GatewayError) -> tuple[int, dict[str, str], dict[str, object]]:
    """(HTTP status, extra headers, body) for an error answered to an OpenAI-protocol client."""
    status = _status(err)
    err_type, code = _type_and_code(err, status)
    headers: dict[str, str] = {}
    retry_after = retry_after_header(err)
    if retry_after is not None:
        headers["retry-after"] = retry_after
    body: dict[str, object] = {
        "error": {"message": err.message, "type": err_type, "param": err.param, "code": code}
    }
    return status, headers, body


def failure_code(err: BaseException) -> str:
    """``response.failed`` ``error.code``: what Codex keys its retry decision on (§2.7)."""
    if not isinstance(err, GatewayError):
        return "server_error"
    if CONTEXT_CODE in (err.upstream_code, err.upstream_type):
        return CONTEXT_CODE
    if isinstance(err, RateLimited) or err.status == 429:
        return "insufficient_quota" if _no_retry(err) else "rate_limit_exceeded"
    if err.upstream_code == "invalid_prompt":
        return "invalid_prompt"
    return "server_error"


def failure_message(err: BaseException) -> str:
    """The failure text; a rate limit with a known delay says "try again in N s" (Codex parses it)."""
    message = getattr(err, "message", None) or str(err) or type(err).__name__
    if isinstance(err, GatewayError) and failure_code(err) == "rate_limit_exceeded":
        if err.retry_after is not None and err.retry_after >= 0:
            message = f"{message} Please try again in {math.ceil(err.retry_after)}s."
    return str(message)


# --- upstream error responses → the hierarchy ---

_MAX_ERROR_TEXT = 1000
# Error type/code strings that name a status even when the HTTP status (200 mid-stream) does not.
_CODE_STATUS = {
    "rate_limit_exceeded": 429,
    "rate_limit_error": 429,
    "overloaded_error": 529,
    "server_overloaded": 529,
    "timeout": 504,
    "context_length_exceeded": 400,
    "invalid_request_error": 400,
}


def error_from_payload(
    error: object, provider: str | None, status: int | None = None, retry_after: float | None = None
) -> UpstreamError:
    """An ``error`` object (OpenAI shape, OpenRouter numeric code, or a bare string) → hierarchy.

    ``status`` is the HTTP status when there is one; mid-stream (HTTP 200) it is derived from a
    numeric ``code`` or a known type/code string, else 502.
    """
    if not isinstance(error, dict):
        message = error if isinstance(error, str) and error else "upstream reported an error"
        return from_upstream_status(status or 502, message, provider=provider, retry_after=retry_after)
    raw_message = error.get("message")
    message = raw_message if isinstance(raw_message, str) and raw_message else "upstream reported an error"
    code = error.get("code")
    err_type = error.get("type")
    if status is None:
        if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
            status = code
        else:
            status = _CODE_STATUS.get(str(code), _CODE_STATUS.get(str(err_type), 502))
    return from_upstream_status(
        status,
        message,
        retry_after=retry_after,
        provider=provider,
        upstream_type=err_type if isinstance(err_type, str) else None,
        upstream_code=None if code is None else str(code),
    )


def openai_error(status: int, body: bytes, headers: Mapping[str, str], provider: str) -> UpstreamError:
    """An upstream OpenAI-shaped error response (Chat, Responses, compatible providers) → the error
    hierarchy (status, message, type/code and ``retry-after`` kept)."""
    retry_after = retry_after_seconds(headers)
    text = body.decode("utf-8", errors="replace").strip()
    try:
        payload = json.loads(text) if text else None
    except ValueError:
        payload = None
    if isinstance(payload, dict) and payload.get("error"):
        return error_from_payload(payload["error"], provider, status=status, retry_after=retry_after)
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        text = payload["message"]
    message = text[:_MAX_ERROR_TEXT] or f"{provider} returned HTTP {status}"
    return from_upstream_status(status, message, retry_after=retry_after, provider=provider)
