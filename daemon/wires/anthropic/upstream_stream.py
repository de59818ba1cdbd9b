"""The Anthropic SSE stream → IR stream-event state machine (protocols.md §1.6).

Fed parsed SSE events (event name + JSON payload), it emits IR ``StreamEvent``s: ``message_start``
→ ``MessageStart``; content blocks → ``BlockStart``/deltas/``BlockStop`` with indices renumbered
from 0; blocks of unknown type (server tools) → ``BlockStart(kind="opaque")``; ``message_delta``
→ ``MessageDelta`` carrying the accumulated usage (output tokens replace, input/cache fields
present overwrite those of ``message_start``); ``error`` → ``StreamError`` of the right class;
``ping`` ignored. Does not read bytes or SSE framing (``sse.SSEParser`` does) and does no I/O.

End of stream: ``finish()`` returns a ``StreamError(UpstreamProtocolError)`` when the message
never ended. If ``message_delta`` arrived with every block closed and only ``message_stop`` is
missing, the answer is complete and ``finish()`` supplies the ``MessageStop`` instead.
"""

from __future__ import annotations

import json

from ...core.errors import (
    RateLimited,
    UpstreamError,
    UpstreamOverloaded,
    UpstreamProtocolError,
    UpstreamServerError,
)
from ...core.ir import (
    JSON,
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    ReasoningDelta,
    SignatureDelta,
    StreamError,
    StreamEvent,
    TextDelta,
    ToolArgsDelta,
    Usage,
)
from .response import STOP_REASONS, parse_usage

_ERROR_CLASSES: dict[str, type[UpstreamError]] = {
    "overloaded_error": UpstreamOverloaded,
    "rate_limit_error": RateLimited,
}


def stream_error(error: object, provider: str | None) -> UpstreamError:
    """An in-stream (or HTTP-200 body) ``error`` object → the error hierarchy."""
    err = error if isinstance(error, dict) else {}
    message = err.get("message")
    err_type = err.get("type")
    cls = _ERROR_CLASSES.get(str(err_type), UpstreamServerError)
    return cls(
        message if isinstance(message, str) and message else "upstream reported an error",
        provider=provider,
        upstream_type=err_type if isinstance(err_type, str) else None,
    )


def _merge_usage(current: Usage, raw: object) -> Usage:
    """§1.6: ``output_tokens`` replaces; input/cache fields present overwrite.

    The 1-hour write part comes with ``cache_creation``; a usage stating only the write total
    (message_delta often does) keeps the part seen before, capped at the new total.
    """
    if not isinstance(raw, dict):
        return current
    new = parse_usage(raw)
    has_split = isinstance(raw.get("cache_creation"), dict)
    writes = "cache_creation_input_tokens" in raw or has_split
    merged = Usage(
        input_tokens=new.input_tokens if "input_tokens" in raw else current.input_tokens,
        output_tokens=new.output_tokens if "output_tokens" in raw else current.output_tokens,
        cache_read_tokens=(
            new.cache_read_tokens if "cache_read_input_tokens" in raw else current.cache_read_tokens
        ),
        cache_write_tokens=new.cache_write_tokens if writes else current.cache_write_tokens,
        reasoning_tokens=(
            new.reasoning_tokens if "output_tokens_details" in raw else current.reasoning_tokens
        ),
        cache_write_1h_tokens=(new.cache_write_1h_tokens if has_split else current.cache_write_1h_tokens),
    )
    merged.cache_write_1h_tokens = min(merged.cache_write_1h_tokens, merged.cache_write_tokens)
    return merged


class AnthropicStreamDecoder:
    """Feed it ``(event, data)`` pairs; it returns IR stream events.

    ``model`` is the client-requested name reported in ``MessageStart``.
    """

    def __init__(self, model: str, provider: str | None = None) -> None:
        self.model = model
        self.provider = provider
        self.usage = Usage()
        self._next_index = 0
        self._open: dict[int, int] = {}  # upstream index → IR index of blocks not yet stopped
        self._started = False
        self._saw_delta = False
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, event: str | None, data: JSON) -> list[StreamEvent]:
        """One parsed SSE event → IR events. ``event`` may be None (then ``data.type`` decides)."""
        if self._done or not isinstance(data, dict):
            return []
        name = event or data.get("type")
        if name == "message_start":
            return self._message_start(data.get("message"))
        if name == "content_block_start":
            return self._block_start(data)
        if name == "content_block_delta":
            return self._block_delta(data)
        if name == "content_block_stop":
            index = self._open.pop(self._upstream_index(data), None)
            return [] if index is None else [BlockStop(index)]
        if name == "message_delta":
            return self._message_delta(data)
        if name == "message_stop":
            self._done = True
            return [MessageStop()]
        if name == "error":
            self._done = True
            return [StreamError(stream_error(data.get("error"), self.provider))]
        return []  # ping and unknown events

    def finish(self) -> list[StreamEvent]:
        """At EOF: nothing if the message ended, else ``MessageStop`` or a ``StreamError``."""
        if self._done:
            return []
        self._done = True
        if self._saw_delta and not self._open:
            return [MessageStop()]
        return [StreamError(UpstreamProtocolError("Anthropic stream ended before message_stop"))]

    def _message_start(self, message: object) -> list[StreamEvent]:
        if self._started:
            return []
        self._started = True
        msg = message if isinstance(message, dict) else {}
        self.usage = _merge_usage(Usage(), msg.get("usage"))
        raw_id = msg.get("id")
        return [
            MessageStart(id=raw_id if isinstance(raw_id, str) else "", model=self.model, usage=self.usage)
        ]

    @staticmethod
    def _upstream_index(data: JSON) -> int:
        index = data.get("index")
        return index if isinstance(index, int) and not isinstance(index, bool) else -1

    def _block_start(self, data: JSON) -> list[StreamEvent]:
        block = data.get("content_block")
        if not isinstance(block, dict):
            return []
        index = self._next_index
        self._next_index += 1
        self._open[self._upstream_index(data)] = index
        kind = block.get("type")
        if kind == "text":
            text = block.get("text")
            first: list[StreamEvent] = [TextDelta(index, text)] if isinstance(text, str) and text else []
            return [BlockStart(index, "text"), *first]
        if kind == "thinking":
            text = block.get("thinking")
            events: list[StreamEvent] = [BlockStart(index, "reasoning", reasoning_origin="anthropic")]
            if isinstance(text, str) and text:
                events.append(ReasoningDelta(index, text))
            signature = block.get("signature")
            if isinstance(signature, str) and signature:
                events.append(SignatureDelta(index, signature))
            return events
        if kind == "redacted_thinking" and isinstance(block.get("data"), str):
            return [BlockStart(index, "reasoning", reasoning_origin="anthropic", redacted=block["data"])]
        if kind == "tool_use":
            tool_id, name, arguments = block.get("id"), block.get("name"), block.get("input")
            events = [
                BlockStart(
                    index,
                    "tool_call",
                    tool_id=tool_id if isinstance(tool_id, str) else "",
                    tool_name=name if isinstance(name, str) else "",
                )
            ]
            if isinstance(arguments, dict) and arguments:
                events.append(ToolArgsDelta(index, json.dumps(arguments, ensure_ascii=False)))
            return events
        return [BlockStart(index, "opaque", opaque=block)]

    def _block_delta(self, data: JSON) -> list[StreamEvent]:
        index = self._open.get(self._upstream_index(data))
        delta = data.get("delta")
        if index is None or not isinstance(delta, dict):
            return []
        kind = delta.get("type")
        if kind == "text_delta" and isinstance(delta.get("text"), str):
            return [TextDelta(index, delta["text"])]
        if kind == "thinking_delta" and isinstance(delta.get("thinking"), str):
            return [ReasoningDelta(index, delta["thinking"])]
        if kind == "signature_delta" and isinstance(delta.get("signature"), str):
            return [SignatureDelta(index, delta["signature"])]
        if kind == "input_json_delta" and isinstance(delta.get("partial_json"), str):
            return [ToolArgsDelta(index, delta["partial_json"])]
        return []  # citations_delta and future delta types

    def _message_delta(self, data: JSON) -> list[StreamEvent]:
        self._saw_delta = True
        self.usage = _merge_usage(self.usage, data.get("usage"))
        raw = data.get("delta")
        delta: JSON = raw if isinstance(raw, dict) else {}
        stop = delta.get("stop_reason")
        sequence = delta.get("stop_sequence")
        return [
            MessageDelta(
                stop_reason=STOP_REASONS.get(stop, "end_turn") if isinstance(stop, str) else None,
                stop_sequence=sequence if isinstance(sequence, str) else None,
                usage=self.usage,
            )
        ]
