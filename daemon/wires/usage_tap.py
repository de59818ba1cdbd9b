"""The shared plumbing of pass-through usage taps: raw SSE bytes in, a few events parsed, never raises.

A pass-through executor relays upstream bytes to the client untouched and feeds a copy to its
wire's tap (``wires.<wire>.usage``). The tap observes: usage, whether the terminal event came, an
in-stream failure message. Taps never raise, whatever the bytes; text deltas, the bulk of a
stream, are never decoded. Does not relay bytes or decide anything about the stream. No I/O.
"""

from __future__ import annotations

import json

from ..core.ir import JSON, Usage
from .sse import BlockScanner, SSEEvent, SSEParser


class SSEUsageTap:
    """Shared plumbing: raw event blocks in, the few interesting ones parsed; never raises.

    Subclasses say which raw blocks may matter (``_wanted``, a cheap bytes test) and handle the
    parsed events (``_on_event``); text deltas, the bulk of a stream, are never decoded.
    """

    def __init__(self) -> None:
        self.usage = Usage()
        self.finished = False
        self.error: str | None = None
        self.has_usage = False
        # The relay's own bound on one event (``MAX_SSE_EVENT_BYTES``): it cuts the stream there,
        # so the tap never stops observing a stream the relay still passes on.
        self._scanner = BlockScanner()
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


def json_object(data: str) -> JSON | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def error_text(error: object) -> str:
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
