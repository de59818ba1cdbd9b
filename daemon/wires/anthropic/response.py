"""IR responses and stream events → Anthropic Message objects and SSE bytes (and back).

Owns the Anthropic response shape (protocols.md §1.5), the SSE event framing and payloads
(§1.6) and the rule that a client never receives an empty text block. Error bodies live in
``errors`` (re-exported here); requests live in ``request``. No I/O.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from ...core import jsonfast
from ...core.errors import InvalidRequest, UpstreamProtocolError
from ...core.ir import (
    JSON,
    BlockStart,
    BlockStop,
    GatewayResponse,
    MessageDelta,
    MessageStart,
    MessageStop,
    OpaquePart,
    Part,
    ReasoningDelta,
    ReasoningPart,
    SignatureDelta,
    StopReason,
    StreamError,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolArgsDelta,
    ToolCallPart,
    Usage,
)
from ..toolids import gateway_signature
from .blocks import is_blank, parse_block
from .errors import error_type_for, render_error
from .usage import apply_write_split

__all__ = ["SSEWriter", "error_type_for", "parse_response", "render_error", "render_response"]

_TO_WIRE_STOP: dict[str, str] = {"context_window_exceeded": "model_context_window_exceeded"}
# Anthropic stop_reason → IR; the one table (the upstream stream decoder uses it too).
STOP_REASONS: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "refusal": "refusal",
    "pause_turn": "pause_turn",
    "model_context_window_exceeded": "context_window_exceeded",
}


def _wire_stop(reason: StopReason | None) -> str | None:
    return None if reason is None else _TO_WIRE_STOP.get(reason, reason)


def message_id(raw: str) -> str:
    """A ``msg_`` id for the client: ``raw`` if it already is one, else one derived from it."""
    if raw.startswith("msg_"):
        return raw
    if not raw:
        return f"msg_{uuid.uuid4().hex[:24]}"
    return f"msg_{hashlib.sha256(raw.encode('utf-8')).hexdigest()[:24]}"


def render_usage(usage: Usage) -> JSON:
    """The Anthropic ``usage`` object; ``cache_creation`` (the lifetime split) only with 1-hour writes."""
    out: JSON = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
    }
    if usage.cache_write_1h_tokens:
        out["cache_creation"] = {
            "ephemeral_5m_input_tokens": usage.cache_write_5m_tokens,
            "ephemeral_1h_input_tokens": usage.cache_write_1h_tokens,
        }
    return out


def _render_reasoning(part: ReasoningPart) -> JSON | None:
    if part.redacted is not None:
        return {"type": "redacted_thinking", "data": part.redacted} if part.origin == "anthropic" else None
    if not part.text and not part.signature:
        return None
    if part.origin == "anthropic":
        signature = part.signature or ""
    elif part.origin == "gateway" and part.signature:
        signature = part.signature
    else:
        signature = gateway_signature(part.text)
    return {"type": "thinking", "thinking": part.text, "signature": signature}


def _render_content_part(part: Part) -> JSON | None:
    if isinstance(part, TextPart):
        return None if is_blank(part.text) else {"type": "text", "text": part.text}
    if isinstance(part, ReasoningPart):
        return _render_reasoning(part)
    if isinstance(part, ToolCallPart):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments}
    if isinstance(part, OpaquePart) and part.protocol == "anthropic":
        return part.data
    return None  # images, documents, tool results and foreign blocks have no response form


def render_response(resp: GatewayResponse) -> dict[str, Any]:
    """IR response → an Anthropic Message object. Never contains an empty text block."""
    content = [b for b in (_render_content_part(p) for p in resp.parts) if b is not None]
    return {
        "id": message_id(resp.id),
        "type": "message",
        "role": "assistant",
        "content": content,
        "model": resp.model,
        "stop_reason": _wire_stop(resp.stop_reason),
        "stop_sequence": resp.stop_sequence,
        "usage": render_usage(resp.usage),
    }


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_usage(raw: object) -> Usage:
    if not isinstance(raw, dict):
        return Usage(estimated=True)
    details = raw.get("output_tokens_details")
    usage = Usage(
        input_tokens=_int(raw.get("input_tokens")),
        output_tokens=_int(raw.get("output_tokens")),
        cache_read_tokens=_int(raw.get("cache_read_input_tokens")),
        cache_write_tokens=_int(raw.get("cache_creation_input_tokens")),
        reasoning_tokens=_int(details.get("thinking_tokens")) if isinstance(details, dict) else 0,
    )
    apply_write_split(raw, usage)
    return usage


def parse_response(body: dict[str, Any]) -> GatewayResponse:
    """An Anthropic Message object → IR. Raises ``UpstreamProtocolError`` if it is malformed."""
    content = body.get("content")
    if not isinstance(content, list) or not isinstance(body.get("id"), str):
        raise UpstreamProtocolError("Anthropic response has no 'id' or 'content' list")
    try:
        parts = [parse_block(b, f"content.{i}") for i, b in enumerate(content)]
    except InvalidRequest as exc:
        raise UpstreamProtocolError(f"Anthropic response block is malformed: {exc.message}") from exc
    stop = body.get("stop_reason")
    stop_sequence = body.get("stop_sequence")
    return GatewayResponse(
        id=body["id"],
        model=str(body.get("model", "")),
        parts=parts,
        stop_reason=STOP_REASONS.get(stop, "end_turn") if isinstance(stop, str) else None,
        stop_sequence=stop_sequence if isinstance(stop_sequence, str) else None,
        usage=parse_usage(body.get("usage")),
    )


# --- streaming ------------------------------------------------------------------------------


def _frame(name: str, data: JSON) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + jsonfast.dumps(data) + b"\n\n"


def _block_start(ev: BlockStart) -> JSON:
    block: JSON
    if ev.kind == "text":
        block = {"type": "text", "text": ""}
    elif ev.kind == "reasoning" and ev.redacted is not None:
        block = {"type": "redacted_thinking", "data": ev.redacted}
    elif ev.kind == "reasoning":
        block = {"type": "thinking", "thinking": "", "signature": ""}
    elif ev.kind == "tool_call":
        block = {"type": "tool_use", "id": ev.tool_id or "", "name": ev.tool_name or "", "input": {}}
    else:
        block = dict(ev.opaque or {})
    return {"type": "content_block_start", "index": ev.index, "content_block": block}


def _delta(index: int, delta: JSON) -> bytes:
    return _frame("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


_TEXT_DELTA = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
    b'"delta":{"type":"text_delta","text":'
)


class SSEWriter:
    """Renders IR stream events as Anthropic SSE frames (``event: …\\ndata: …\\n\\n``)."""

    def render(self, event: StreamEvent) -> bytes:
        if type(event) is TextDelta:  # most of a stream: the same bytes as _delta, built directly
            return _TEXT_DELTA % event.index + jsonfast.dumps(event.text) + b"}}\n\n"
        if isinstance(event, MessageStart):
            message: JSON = {
                "id": message_id(event.id),
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": event.model,
                "stop_reason": None,
                "stop_sequence": None,
                "usage": render_usage(event.usage),
            }
            return _frame("message_start", {"type": "message_start", "message": message})
        if isinstance(event, BlockStart):
            return _frame("content_block_start", _block_start(event))
        if isinstance(event, TextDelta):
            return _delta(event.index, {"type": "text_delta", "text": event.text})
        if isinstance(event, ReasoningDelta):
            return _delta(event.index, {"type": "thinking_delta", "thinking": event.text})
        if isinstance(event, SignatureDelta):
            return _delta(event.index, {"type": "signature_delta", "signature": event.signature})
        if isinstance(event, ToolArgsDelta):
            return _delta(event.index, {"type": "input_json_delta", "partial_json": event.partial_json})
        if isinstance(event, BlockStop):
            return _frame("content_block_stop", {"type": "content_block_stop", "index": event.index})
        if isinstance(event, MessageDelta):
            delta = {"stop_reason": _wire_stop(event.stop_reason), "stop_sequence": event.stop_sequence}
            usage = render_usage(event.usage)
            ordered = {"output_tokens": usage.pop("output_tokens"), **usage}
            return _frame("message_delta", {"type": "message_delta", "delta": delta, "usage": ordered})
        if isinstance(event, MessageStop):
            return _frame("message_stop", {"type": "message_stop"})
        return self.error(event)

    def error(self, event: StreamError) -> bytes:
        err = event.error
        message = getattr(err, "message", None) or str(err) or type(err).__name__
        payload = {"type": "error", "error": {"type": error_type_for(err), "message": message}}
        return _frame("error", payload)

    def ping(self) -> bytes:
        return _frame("ping", {"type": "ping"})
