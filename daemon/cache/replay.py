"""Response-cache entries: made from a client-protocol response body, replayed to any client.

``entry_from_body`` reads the non-stream body a client received (whichever protocol it speaks:
Anthropic, Chat or Responses) back into the IR and keeps it only when the answer is plain text
(reasoning is dropped; tool calls, refusals of shape and errors make it uncacheable).
``hit_outcome`` renders a stored entry for the client that asked, as a whole body or as a
stream (IR events through the client's own renderer), and marks the request record as served
by ``"cache"`` (the pipeline finishes it). Streams are replayed, never stored: only non-stream
responses become entries.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

from ..core.context import RequestRecord, ResponseHit
from ..core.errors import GatewayError
from ..core.ir import (
    BlockStart,
    BlockStop,
    GatewayRequest,
    GatewayResponse,
    MessageDelta,
    MessageStart,
    MessageStop,
    ReasoningPart,
    StopReason,
    StreamEvent,
    TextDelta,
    TextPart,
    Usage,
)
from ..execute.outcome import Outcome
from ..wires.anthropic.upstream import parse_anthropic_response
from ..wires.base import SSE_HEADERS, ClientRenderer
from ..wires.chat.upstream_response import parse_chat_response
from ..wires.responses.usage import usage_from_responses

ENTRY_VERSION = 1
CACHE_PROVIDER = "cache"
_STORABLE_STOPS: frozenset[StopReason | None] = frozenset({"end_turn", "stop_sequence", "max_tokens"})
_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cache_write_1h_tokens",
)


def _responses_to_ir(body: dict[str, Any], model: str) -> GatewayResponse | None:
    if body.get("status") != "completed" or not isinstance(body.get("output"), list):
        return None
    texts: list[str] = []
    for item in body["output"]:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "reasoning":
            continue
        if kind != "message":
            return None
        for part in item.get("content") or []:
            if not isinstance(part, dict) or part.get("type") != "output_text":
                return None
            texts.append(str(part.get("text", "")))
    return GatewayResponse(
        id=str(body.get("id", "")),
        model=model,
        parts=[TextPart(t) for t in texts],
        usage=usage_from_responses(body.get("usage")),
    )


def _to_ir(protocol: str, body: dict[str, Any], model: str) -> GatewayResponse | None:
    try:
        if protocol == "anthropic":
            return parse_anthropic_response(body, model=model)
        if protocol == "chat":
            return parse_chat_response(body, model=model)
    except GatewayError:
        return None
    return _responses_to_ir(body, model) if protocol == "responses" else None


def entry_from_body(
    protocol: str, raw: bytes, *, model: str, provider: str, upstream_model: str
) -> dict[str, Any] | None:
    """A cache entry for a successful non-stream response, or None when it is not plain text."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    resp = _to_ir(protocol, body, model)
    if resp is None or resp.stop_reason not in _STORABLE_STOPS:
        return None
    parts = [p for p in resp.parts if not isinstance(p, ReasoningPart)]
    if not parts or not all(isinstance(p, TextPart) for p in parts):
        return None
    return {
        "v": ENTRY_VERSION,
        "provider": provider,
        "model": upstream_model,
        "texts": [p.text for p in parts if isinstance(p, TextPart)],
        "stop_reason": resp.stop_reason,
        "stop_sequence": resp.stop_sequence,
        "usage": {name: getattr(resp.usage, name) for name in _USAGE_FIELDS},
    }


def entry_usage(entry: dict[str, Any]) -> Usage:
    raw = entry.get("usage") or {}
    usage = Usage()
    for name in _USAGE_FIELDS:
        setattr(usage, name, int(raw.get(name, 0)))
    return usage


def _response(entry: dict[str, Any], model: str) -> GatewayResponse:
    return GatewayResponse(
        id="cache_" + secrets.token_hex(12),
        model=model,
        parts=[TextPart(str(t)) for t in entry.get("texts", [])],
        stop_reason=entry.get("stop_reason", "end_turn"),
        stop_sequence=entry.get("stop_sequence"),
        usage=entry_usage(entry),
    )


def _events(resp: GatewayResponse) -> list[StreamEvent]:
    u = resp.usage
    start = Usage(
        u.input_tokens,
        0,
        u.cache_read_tokens,
        u.cache_write_tokens,
        cache_write_1h_tokens=u.cache_write_1h_tokens,
    )
    events: list[StreamEvent] = [MessageStart(resp.id, resp.model, start)]
    for i, part in enumerate(p for p in resp.parts if isinstance(p, TextPart)):
        events += [BlockStart(i, "text"), TextDelta(i, part.text), BlockStop(i)]
    events += [MessageDelta(resp.stop_reason, resp.stop_sequence, resp.usage), MessageStop()]
    return events


def _mark_served(record: RequestRecord, entry: dict[str, Any]) -> None:
    record.provider, record.upstream_model = CACHE_PROVIDER, str(entry.get("model", ""))
    record.translated = False
    record.mark_first_byte()
    provider, model = entry.get("provider"), entry.get("model")
    record.context.response_hit = ResponseHit(
        str(provider) if provider is not None else None,
        str(model) if model is not None else None,
        entry_usage(entry),
    )
    record.status = 200


def hit_outcome(
    entry: dict[str, Any], request: GatewayRequest, renderer: ClientRenderer, record: RequestRecord
) -> Outcome:
    """Serve ``entry`` to this client (stream or not), marking the record as served by the cache."""
    resp = _response(entry, request.model)
    _mark_served(record, entry)
    headers = [("x-stackbilt-cache", "hit")]
    if not request.stream:
        body = json.dumps(renderer.response(resp, request), ensure_ascii=False).encode()
        return Outcome(200, [("content-type", "application/json"), *headers], body=body)
    return Outcome(200, [*SSE_HEADERS, *headers], stream=_replay(resp, request, renderer, record))


async def _replay(
    resp: GatewayResponse, request: GatewayRequest, renderer: ClientRenderer, record: RequestRecord
) -> AsyncIterator[bytes]:
    writer = renderer.stream(request)
    yield b"".join(writer.render(ev) for ev in _events(resp)) + writer.close()
