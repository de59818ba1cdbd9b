"""A buffered OpenAI Responses body (a translated call's answer) → IR ``GatewayResponse``.

Owns reading the ``output`` items in order: ``reasoning`` (carried as a ``gw:oai1:`` reasoning
part, ``upstream_items``), ``message`` text (a ``refusal`` part is shown as text and ends in
``refusal``), ``function_call`` / ``custom_tool_call`` → tool calls; hosted-tool items are
skipped. ``status`` ``failed`` (or a non-null ``error``) raises the mapped error; ``incomplete``
maps to ``max_tokens`` / ``refusal``. Usage (cached and reasoning tokens) is ``usage``'s. The
stream is ``upstream_stream``'s. No I/O.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import UpstreamProtocolError
from ...core.ir import GatewayResponse, Part, TextPart, ToolCallPart, Usage
from ..openai_errors import error_from_payload
from .upstream_items import call_arguments, call_id, message_text, reasoning_part, stop_reason
from .usage import usage_from_responses

_CALLS = ("function_call", "custom_tool_call")


def parse_responses_body(body: dict[str, Any], *, model: str, provider: str | None = None) -> GatewayResponse:
    """A non-streaming Response object → IR. ``model`` is the name the client asked for."""
    if not isinstance(body, dict):
        raise UpstreamProtocolError("Responses answer is not a JSON object", provider=provider)
    if body.get("error") or body.get("status") == "failed":
        raise error_from_payload(body.get("error") or "the response failed", provider)
    output = body.get("output")
    if not isinstance(output, list):
        raise UpstreamProtocolError("Responses answer has no output list", provider=provider)
    raw_id = body.get("id")
    response_id = raw_id if isinstance(raw_id, str) else ""
    parts: list[Part] = []
    refused = False
    calls = 0
    seen: set[str] = set()
    chars = 0
    for index, item in enumerate(output):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "reasoning":
            part = reasoning_part(item)
            if part.text or part.signature:
                parts.append(part)
        elif kind == "message":
            text, refusal = message_text(item)
            refused = refused or refusal
            if text.strip():
                parts.append(TextPart(text))
                chars += len(text)
        elif kind in _CALLS:
            name = item.get("name")
            if not isinstance(name, str) or not name:
                continue
            tool_id = call_id(item, response_id, index, seen)
            parts.append(ToolCallPart(id=tool_id, name=name, arguments=call_arguments(item)))
            calls += 1
    usage = usage_from_responses(body.get("usage"))
    if not isinstance(body.get("usage"), dict):
        usage = Usage(output_tokens=chars // 4, estimated=True)
    return GatewayResponse(
        id=response_id,
        model=model,
        parts=parts,
        stop_reason=stop_reason(
            body.get("status"), body.get("incomplete_details"), refused=refused, has_tool_calls=calls > 0
        ),
        usage=usage,
    )
