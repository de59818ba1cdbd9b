"""Side parsers that read token usage out of pass-through OpenAI streams, and body usage readers.

A pass-through executor relays upstream bytes to the client untouched and feeds a copy to a tap:
``ResponsesUsageTap`` (Responses SSE: the usage of ``response.completed`` / ``.incomplete`` /
``.failed``, whether a terminal event came, the failure message) and ``ChatUsageTap`` (Chat
chunks: the final usage chunk, ``[DONE]``, ``error`` payloads). Taps never raise, whatever the
bytes; they only observe. ``usage_from_responses`` / ``usage_from_chat`` read a buffered body's
``usage`` (IR ``input_tokens`` = total - cache reads - cache writes, protocols.md §4.5).
Does not relay bytes or decide anything about the stream. No I/O.
"""

from __future__ import annotations

import json

from ..core.ir import JSON, Usage
from .chat.common import usage_from_chat as _chat_usage
from .sse import BlockScanner, SSEEvent, SSEParser

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


def usage_from_chat(u: object) -> Usage:
    """A Chat Completions ``usage`` object → IR (empty ``Usage`` for anything else)."""
    return _chat_usage(u) or Usage()


def _error_text(error: object) -> str:
    if isinstance(error, dict):
        message = error.get("message")
        code = error.get("code")
        if isinstance(message, str) and message:
            return message
        if code is not None:
            return str(code)
    if isinstance(error, str) and error:
        return error
    return "upstream reported an error"


class _Tap:
    """Shared plumbing: raw event blocks in, the few interesting ones parsed; never raises.

    Subclasses say which raw blocks may matter (``_wanted``, a cheap bytes test) and handle the
    parsed events (``_on_event``); text deltas, the bulk of a stream, are never decoded.
    """

    def __init__(self) -> None:
        self.usage = Usage()
        self.finished = False
        self.error: str | None = None
        self.has_usage = False
        self._scanner = BlockScanner(max_event_bytes=8 * 1024 * 1024)
        self._broken = False

    def feed(self, chunk: bytes) -> None:
        if self._broken:
            return
        try:
            blocks = self._scanner.feed(chunk)
        except Exception:  # an oversized event or anything else: stop observing, never raise
            self._broken = True
            return
        self._handle(blocks)

    def close(self) -> None:
        """End of stream: handles a last event that had no blank line after it."""
        if not self._broken:
            self._handle(self._scanner.flush())

    def _handle(self, blocks: list[bytes]) -> None:
        for block in blocks:
            if not self._wanted(block):
                continue
            try:
                events = SSEParser().feed(block + b"\n\n")
            except Exception:
                continue
            for event in events:
                try:
                    self._on_event(event)
                except Exception:  # a payload shape we did not foresee must not break the relay
                    continue

    def _wanted(self, block: bytes) -> bool:
        raise NotImplementedError

    def _on_event(self, event: SSEEvent) -> None:
        raise NotImplementedError


def _json(data: str) -> JSON | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class ResponsesUsageTap(_Tap):
    """Observes a Responses SSE stream."""

    def _wanted(self, block: bytes) -> bool:
        head = block[:120]
        return (
            b"response.completed" in head
            or b"response.incomplete" in head
            or (b"response.failed" in head or b"error" in head)
        )

    def _on_event(self, event: SSEEvent) -> None:
        payload = _json(event.data)
        if payload is None:
            return
        kind = payload.get("type") or event.event
        if kind == "error":
            self.finished = True
            self.error = _error_text(payload.get("error", payload))
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
        if kind == "response.failed":
            self.error = _error_text(response.get("error"))


class ChatUsageTap(_Tap):
    """Observes a Chat Completions chunk stream."""

    def _wanted(self, block: bytes) -> bool:
        return b"[DONE]" in block or b'"usage":{' in block or b'"usage": {' in block or b'"error"' in block

    def _on_event(self, event: SSEEvent) -> None:
        if event.data.strip() == "[DONE]":
            self.finished = True
            return
        payload = _json(event.data)
        if payload is None:
            return
        if payload.get("error"):
            self.error = _error_text(payload["error"])
            return
        if isinstance(payload.get("usage"), dict):
            self.usage = usage_from_chat(payload["usage"])
            self.has_usage = True


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


class AnthropicUsageTap(_Tap):
    """Observes an Anthropic Messages stream: usage, stop reason, in-stream errors."""

    def __init__(self) -> None:
        super().__init__()
        self.stop_reason: str | None = None

    def _wanted(self, block: bytes) -> bool:
        head = block[:48]
        return b"message_" in head or b"error" in head

    def _on_event(self, event: SSEEvent) -> None:
        data = _json(event.data)
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
            self.error = _error_text(data.get("error"))
