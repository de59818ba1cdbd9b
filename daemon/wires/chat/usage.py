"""Usage of the Chat Completions wire: a buffered body's ``usage`` and the pass-through stream tap.

``ChatUsageTap`` observes relayed Chat chunks: the final usage chunk, ``[DONE]``, ``error``
payloads. The ``usage`` object itself is read by ``common.usage_from_chat``. No I/O.
"""

from __future__ import annotations

from typing import Any

from ...core.ir import Usage
from ..sse import SSEEvent
from ..usage_tap import SSEUsageTap, error_text, json_object
from .common import usage_from_chat as _chat_usage


def usage_from_chat(u: object) -> Usage:
    """A Chat Completions ``usage`` object → IR (empty ``Usage`` for anything else)."""
    return _chat_usage(u) or Usage()


class ChatUsageTap(SSEUsageTap):
    """Observes a Chat Completions chunk stream."""

    # The choice's ``finish_reason`` ("stop", "length", "tool_calls", …) once a chunk states it.
    stop_reason: str | None = None

    def _wanted(self, block: bytes) -> bool:
        return (
            b"[DONE]" in block
            or b'"usage":{' in block
            or b'"usage": {' in block
            or b'"error"' in block
            or b'"finish_reason":"' in block
            or b'"finish_reason": "' in block
        )

    def _on_event(self, event: SSEEvent) -> None:
        if event.data.strip() == "[DONE]":
            self.finished = True
            return
        payload = json_object(event.data)
        if payload is None:
            return
        if payload.get("error"):
            self.error = error_text(payload["error"])
            return
        if isinstance(payload.get("usage"), dict):
            self.usage = usage_from_chat(payload["usage"])
            self.has_usage = True
        choices = payload.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, dict) and isinstance(choice.get("finish_reason"), str):
                    self.stop_reason = choice["finish_reason"]


def body_usage(body: dict[str, Any], into: Usage) -> None:
    """A buffered pass-through body's usage, copied into the request's record."""
    into.copy_from(usage_from_chat(body.get("usage")))
