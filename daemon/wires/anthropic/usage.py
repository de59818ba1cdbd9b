"""Usage of the Anthropic wire: ``usage`` objects and the pass-through stream tap.

``usage_from_anthropic`` applies a ``usage`` object (later values overwrite: message_delta
semantics), the cache writes split by lifetime (``cache_creation.ephemeral_5m_input_tokens`` /
``ephemeral_1h_input_tokens``, read by ``cache_write_split``); ``AnthropicUsageTap`` observes a
relayed Messages stream: usage, stop reason, in-stream errors. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...core.ir import Usage
from ..sse import SSEEvent
from ..usage_tap import SSEUsageTap, error_text, json_object


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def cache_write_split(u: Mapping[str, object]) -> tuple[int, int] | None:
    """``(5-minute, 1-hour)`` cache writes from ``u["cache_creation"]``; None when it is absent."""
    split = u.get("cache_creation")
    if not isinstance(split, dict):
        return None
    five, hour = split.get("ephemeral_5m_input_tokens"), split.get("ephemeral_1h_input_tokens")
    return _count(five) or 0, _count(hour) or 0


def apply_write_split(u: Mapping[str, object], into: Usage) -> None:
    """Set ``into``'s 1-hour writes from ``u`` (the total too when ``u`` states only the split).

    A ``usage`` without ``cache_creation`` (a message_delta stating only the total) keeps the
    1-hour part seen before, never more than the total.
    """
    split = cache_write_split(u)
    if split is not None:
        if _count(u.get("cache_creation_input_tokens")) is None:
            into.cache_write_tokens = split[0] + split[1]
        into.cache_write_1h_tokens = split[1]
    into.cache_write_1h_tokens = min(into.cache_write_1h_tokens, into.cache_write_tokens)


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
    apply_write_split(u, into)
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
