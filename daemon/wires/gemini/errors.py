"""Gemini error responses in both directions.

Upstream → hierarchy: ``gemini_error`` maps an error response (HTTP status, the
``{"error": {"code", "message", "status", "details"}}`` body) with its retry delay: the
``retry-after`` header first (``wires.retry_after``), else a ``google.rpc.RetryInfo`` detail's
``retryDelay`` (``"34s"``, ``"1.5s"``). ``error_from_payload`` does the same for an ``error``
object inside a body or a stream. Hierarchy → a Gemini-shaped body: ``render_error`` (no client
speaks Gemini to the gateway today; the shape keeps the ``Wire`` complete). No I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ...core.errors import GatewayError, UpstreamError, from_upstream_status
from ..retry_after import retry_after_seconds

RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_MAX_TEXT = 1000
_STATUS_BY_NAME = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "RESOURCE_EXHAUSTED": 429,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
_NAME_BY_STATUS = {v: k for k, v in reversed(list(_STATUS_BY_NAME.items()))}


def retry_delay(details: object) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail (``"34s"``, ``"0.5s"``), else None."""
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict) or detail.get("@type") != RETRY_INFO:
            continue
        delay = detail.get("retryDelay")
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                seconds = float(delay[:-1])
            except ValueError:
                continue
            if seconds >= 0:
                return seconds
    return None


def error_from_payload(
    error: object, provider: str | None, status: int | None = None, retry_after: float | None = None
) -> UpstreamError:
    """A Gemini ``error`` object → the hierarchy; ``status`` is the HTTP status when there is one."""
    if not isinstance(error, dict):
        text = error if isinstance(error, str) and error else "Gemini reported an error"
        return from_upstream_status(status or 502, text, retry_after=retry_after, provider=provider)
    raw = error.get("message")
    message = raw if isinstance(raw, str) and raw else "Gemini reported an error"
    name = error.get("status")
    code = error.get("code")
    if status is None:
        if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
            status = code
        else:
            status = _STATUS_BY_NAME.get(str(name), 502)
    if retry_after is None:
        retry_after = retry_delay(error.get("details"))
    return from_upstream_status(
        status,
        message[:_MAX_TEXT],
        retry_after=retry_after,
        provider=provider,
        upstream_type=name if isinstance(name, str) else None,
        upstream_code=name if isinstance(name, str) else None,
    )


def gemini_error(status: int, body: bytes, headers: Mapping[str, str], provider: str) -> UpstreamError:
    """An upstream Gemini / Vertex AI error response → the error hierarchy."""
    retry_after = retry_after_seconds(headers)
    text = body.decode("utf-8", errors="replace").strip()
    try:
        payload = json.loads(text) if text else None
    except ValueError:
        payload = None
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]  # Vertex sometimes wraps the error object in a list
    if isinstance(payload, dict) and payload.get("error"):
        return error_from_payload(payload["error"], provider, status=status, retry_after=retry_after)
    message = text[:_MAX_TEXT] or f"{provider} returned HTTP {status}"
    return from_upstream_status(status, message, retry_after=retry_after, provider=provider)


def render_error(err: GatewayError) -> tuple[int, dict[str, str], dict[str, object]]:
    """(status, headers, body) in Gemini's error shape."""
    headers: dict[str, str] = {}
    if err.retry_after is not None and err.retry_after >= 0:
        headers["retry-after"] = str(max(0, round(err.retry_after)))
    name = _NAME_BY_STATUS.get(err.status, "INTERNAL" if err.status >= 500 else "INVALID_ARGUMENT")
    return err.status, headers, {"error": {"code": err.status, "message": err.message, "status": name}}
