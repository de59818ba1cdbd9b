"""Chat Completions responses → IR: buffered bodies, upstream error responses, and the stream.

Owns ``parse_chat_response`` (non-streaming body → ``GatewayResponse``, protocols.md §3.3,
§4.4, §4.5) (error responses: ``wires.openai_errors.openai_error``). The
streaming state machine lives in ``upstream_stream`` and is re-exported here. Does no I/O: the
caller hands over the already-read body, status and headers.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import UpstreamProtocolError
from ...core.ir import GatewayResponse, Part, ReasoningPart, TextPart, ToolCallPart, Usage
from ..openai_common import parse_arguments
from ..openai_errors import error_from_payload
from ..toolids import gateway_signature, generate_tool_id, sanitize_tool_id
from .common import stop_reason, usage_from_chat
from .upstream_stream import ChatStreamDecoder

__all__ = ["ChatStreamDecoder", "parse_chat_response", "sanitize_tool_id"]


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or p.get("refusal") or "") for p in content if isinstance(p, dict))
    return ""


def _tool_calls(raw: object, seed: str) -> list[ToolCallPart]:
    out: list[ToolCallPart] = []
    seen: set[str] = set()
    for i, call in enumerate(raw if isinstance(raw, list) else []):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or not isinstance(function, dict):
            continue
        name = function.get("name")
        if not isinstance(name, str) or not name:
            continue
        raw_id = call.get("id")
        call_id = sanitize_tool_id(raw_id) if isinstance(raw_id, str) and raw_id else ""
        if not call_id or call_id in seen:
            call_id = generate_tool_id(seed, i)
        seen.add(call_id)
        out.append(
            ToolCallPart(id=call_id, name=name, arguments=parse_arguments(function.get("arguments")) or {})
        )
    return out


def parse_chat_response(body: dict[str, Any], *, model: str) -> GatewayResponse:
    """A non-streaming Chat Completions body → IR. ``model`` is the name the client asked for.

    Raises the mapped ``UpstreamError`` for a body carrying ``error`` and
    ``UpstreamProtocolError`` for a body without choices.
    """
    if not isinstance(body, dict):
        raise UpstreamProtocolError("Chat Completions response is not a JSON object")
    if body.get("error"):
        raise error_from_payload(body["error"], None)
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise UpstreamProtocolError("Chat Completions response has no choices")
    choice = choices[0]
    raw_message = choice.get("message")
    message: dict[str, Any] = raw_message if isinstance(raw_message, dict) else {}
    raw_id = body.get("id")
    response_id = raw_id if isinstance(raw_id, str) else ""
    parts: list[Part] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        parts.append(ReasoningPart(text=reasoning, signature=gateway_signature(reasoning), origin="gateway"))
    text = _text_of(message.get("content")) or _text_of(message.get("refusal"))
    if text.strip():
        parts.append(TextPart(text))
    calls = _tool_calls(message.get("tool_calls"), response_id)
    parts.extend(calls)
    usage = usage_from_chat(body.get("usage"))
    if usage is None:
        usage = Usage(output_tokens=(len(text) + len(reasoning or "")) // 4, estimated=True)
    return GatewayResponse(
        id=response_id,
        model=model,
        parts=parts,
        stop_reason=stop_reason(choice.get("finish_reason"), bool(calls)),
        stop_sequence=None,
        usage=usage,
    )
