"""Pieces of the Chat Completions response mapping shared by the buffered and streaming decoders.

Owns: finish_reason → stop reason (protocols.md §4.4), Chat usage → IR ``Usage`` (§4.5),
tolerant tool-argument parsing (§4.9 #6) and in-body/in-stream ``error`` objects → the error
hierarchy. Does not read HTTP responses or headers (``chat_response.chat_error`` does). No I/O.
"""

from __future__ import annotations

import json

from ...core.errors import UpstreamError, from_upstream_status
from ...core.ir import JSON, StopReason, Usage

_FINISH: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "content_filter": "refusal",
}
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


def stop_reason(finish_reason: object, has_tool_calls: bool) -> StopReason:
    """§4.4: tool calls decide ``tool_use``; ``tool_calls`` without calls is ``end_turn``."""
    if has_tool_calls:
        return "tool_use"
    if isinstance(finish_reason, str):
        return _FINISH.get(finish_reason, "end_turn")
    return "end_turn"


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from_chat(raw: object) -> Usage | None:
    """Chat ``usage`` → IR (input excludes cache reads/writes). None when there is no usage."""
    if not isinstance(raw, dict):
        return None
    prompt = _int(raw.get("prompt_tokens"))
    details = raw.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    cached = _int(details.get("cached_tokens")) or _int(raw.get("prompt_cache_hit_tokens"))
    written = _int(details.get("cache_write_tokens"))
    out_details = raw.get("completion_tokens_details")
    reasoning = _int(out_details.get("reasoning_tokens")) if isinstance(out_details, dict) else 0
    return Usage(
        input_tokens=max(0, prompt - cached - written),
        output_tokens=_int(raw.get("completion_tokens")),
        cache_read_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=reasoning,
    )


def parse_arguments(raw: object) -> JSON | None:
    """Tool-call ``arguments`` → a JSON object; ``""`` → ``{}``; None when it is not one."""
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if not isinstance(raw, str):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


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
