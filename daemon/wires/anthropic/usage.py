"""Usage of the Anthropic wire: ``usage`` objects and the pass-through stream tap.

``usage_from_anthropic`` applies a ``usage`` object (later values overwrite: message_delta
semantics); ``AnthropicUsageTap`` observes a relayed Messages stream: usage, stop reason,
in-stream errors. No I/O.
"""

from __future__ import annotations

from typing import Any

from ...core.ir import Usage
from ..sse import SSEEvent
from ..usage_tap import SSEUsageTap, error_text, json_object


def usage_from_anthropic(u: dict[str, object], into: Usage) -> None:
    """Apply an Anthropic ``usage`` object; later values overwrite (message_delta semantics)."""
    for src, dst in (
        ("input_tokens", "input_tokens"),
        ("output_tokens", "output_tokens"),
        ("cache_read_input_tokens", "cache_read_tokens"),
        ("cache_creation_input_tokens", "cache_write_tokens"),
    ):
        value = u.get(src)
        if isinstance(value, int) and not isinstance(value, bool):
            setattr(into, dst, value)
    details = u.get("output_tokens_details")
    if isinstance(details, dict) and isinstance(details.get("thinking_tokens"), int):
        into.reasoning_tokens = details["thinking_tokens"]


class AnthropicUsageTap(SSEUsageTap):
    """Observes an Anthropic Messages stream: usage, stop reason, in-stream errors."""

    def __init__(self) -> None:
        super().__init__()
        self.stop_reason: str | None = None

    def _wanted(self, block: bytes) -> bool:
        head = block[:48]
        return b"message_" in head or b"error" in head

    def _on_event(self, event: SSEEvent) -> None:
        data = json_object(event.data)
        if data is None:
            return
        kind = data.get("type") or event.event
        if kind == "message_start":
            message = data.get("message")
            usage_from_anthropic(
                (message or {}).get("usage") or {} if isinstance(message, dict) else {}, self.usage
            )
            self.has_usage = True
        elif kind == "message_delta":
            usage_from_anthropic(data.get("usage") or {}, self.usage)
            delta = data.get("delta")
            self.stop_reason = delta.get("stop_reason") if isinstance(delta, dict) else None
        elif kind == "message_stop":
            self.finished = True
        elif kind == "error":
            self.error = error_text(data.get("error"))


def body_usage(body: dict[str, Any], into: Usage) -> None:
    """A buffered pass-through body's usage, applied to the request's record."""
    usage_from_anthropic(body.get("usage") or {}, into)
