"""Usage of the Responses wire: a buffered body's ``usage`` and the pass-through stream tap.

``usage_from_responses`` reads a ``usage`` object (IR ``input_tokens`` = total - cache reads -
cache writes, protocols.md §4.5); ``ResponsesUsageTap`` observes a relayed Responses SSE stream:
the usage of ``response.completed`` / ``.incomplete`` / ``.failed``, whether a terminal event
came, the failure message. No I/O.
"""

from __future__ import annotations

from typing import Any

from ...core.ir import Usage
from ..sse import SSEEvent
from ..usage_tap import SSEUsageTap, error_text, json_object

_TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_from_responses(u: object) -> Usage:
    """A Responses ``usage`` object → IR (empty ``Usage`` for anything else)."""
    if not isinstance(u, dict):
        return Usage()
    details = u.get("input_tokens_details")
    details = details if isinstance(details, dict) else {}
    cached, written = _int(details.get("cached_tokens")), _int(details.get("cache_write_tokens"))
    out_details = u.get("output_tokens_details")
    reasoning = _int(out_details.get("reasoning_tokens")) if isinstance(out_details, dict) else 0
    return Usage(
        input_tokens=max(0, _int(u.get("input_tokens")) - cached - written),
        output_tokens=_int(u.get("output_tokens")),
        cache_read_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=reasoning,
    )


class ResponsesUsageTap(SSEUsageTap):
    """Observes a Responses SSE stream."""

    # The terminal response's status ("completed", "failed"), or why it is incomplete.
    stop_reason: str | None = None

    def _wanted(self, block: bytes) -> bool:
        head = block[:120]
        return (
            b"response.completed" in head
            or b"response.incomplete" in head
            or (b"response.failed" in head or b"error" in head)
        )

    def _on_event(self, event: SSEEvent) -> None:
        payload = json_object(event.data)
        if payload is None:
            return
        kind = payload.get("type") or event.event
        if kind == "error":
            self.finished = True
            self.error = error_text(payload.get("error", payload))
            return
        if kind not in _TERMINAL:
            return
        self.finished = True
        response = payload.get("response")
        if not isinstance(response, dict):
            return
        if isinstance(response.get("usage"), dict):
            self.usage = usage_from_responses(response["usage"])
            self.has_usage = True
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        status = reason if isinstance(reason, str) else response.get("status")
        self.stop_reason = status if isinstance(status, str) else None
        if kind == "response.failed":
            self.error = error_text(response.get("error"))


def body_usage(body: dict[str, Any], into: Usage) -> None:
    """A buffered pass-through body's usage, copied into the request's record."""
    into.copy_from(usage_from_responses(body.get("usage")))
