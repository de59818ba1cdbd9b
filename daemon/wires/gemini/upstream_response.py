"""A buffered Gemini ``GenerateContentResponse`` → IR ``GatewayResponse``.

Owns the non-streaming direction of the parts mapping: thought parts become reasoning, a
``thoughtSignature`` becomes the signature of a reasoning part placed before the part it came on
(``common``), ``functionCall`` parts become tool calls (Gemini's id kept when it sends one, else a
deterministic ``call_…`` id), a prompt blocked by ``promptFeedback`` is a refusal, usage
through ``common.usage_from_gemini``. Does no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from ...core.errors import UpstreamProtocolError
from ...core.ir import GatewayResponse, Part, ReasoningPart, StopReason, TextPart, ToolCallPart, Usage
from ..toolids import gateway_signature, generate_tool_id, sanitize_tool_id
from .common import stop_reason, usage_from_gemini, wrap_signature
from .errors import error_from_payload


def first_candidate(body: dict[str, Any]) -> dict[str, Any] | None:
    candidates = body.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        return candidates[0]
    return None


def candidate_parts(candidate: dict[str, Any] | None) -> list[dict[str, Any]]:
    content = candidate.get("content") if candidate else None
    parts = content.get("parts") if isinstance(content, dict) else None
    return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []


def call_id(raw: object, seed: str, index: int, seen: set[str]) -> str:
    """The client-facing id of a Gemini function call (its own id when usable)."""
    found = sanitize_tool_id(raw) if isinstance(raw, str) and raw else ""
    if not found or found in seen:
        found = generate_tool_id(seed, index)
    seen.add(found)
    return found


def parse_gemini_response(body: dict[str, Any], *, model: str) -> GatewayResponse:
    """A non-streaming body → IR; ``model`` is the name the client asked for."""
    if not isinstance(body, dict):
        raise UpstreamProtocolError("Gemini response is not a JSON object")
    if body.get("error"):
        raise error_from_payload(body["error"], None)
    raw_id = body.get("responseId")
    response_id = raw_id if isinstance(raw_id, str) and raw_id else ""
    candidate = first_candidate(body)
    if candidate is None:
        feedback = body.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            usage = usage_from_gemini(body.get("usageMetadata")) or Usage()
            return GatewayResponse(response_id, model, [], stop_reason="refusal", usage=usage)
        raise UpstreamProtocolError("Gemini response has no candidates")
    parts: list[Part] = []
    thought: list[str] = []
    seen: set[str] = set()
    calls = 0
    chars = 0

    def flush(signature: str | None) -> None:
        text = "".join(thought)
        thought.clear()
        if signature is not None:
            parts.append(ReasoningPart(text=text, signature=wrap_signature(signature), origin="anthropic"))
        elif text:
            parts.append(ReasoningPart(text=text, signature=gateway_signature(text), origin="gateway"))

    for index, part in enumerate(candidate_parts(candidate)):
        signature = part.get("thoughtSignature")
        signature = signature if isinstance(signature, str) and signature else None
        text = part.get("text")
        if part.get("thought") is True:
            if isinstance(text, str):
                thought.append(text)
            if signature is not None:
                flush(signature)
            continue
        if thought or signature is not None:
            flush(signature)
        function = part.get("functionCall")
        if isinstance(function, dict) and isinstance(function.get("name"), str) and function["name"]:
            args = function.get("args")
            arguments = args if isinstance(args, dict) else {}
            chars += len(json.dumps(arguments))
            parts.append(
                ToolCallPart(
                    id=call_id(function.get("id"), response_id, index, seen),
                    name=function["name"],
                    arguments=arguments,
                )
            )
            calls += 1
        elif isinstance(text, str) and text:
            chars += len(text)
            if parts and isinstance(parts[-1], TextPart):
                parts[-1].text += text
            else:
                parts.append(TextPart(text))
    flush(None)
    found = usage_from_gemini(body.get("usageMetadata"))
    usage = found if found is not None else Usage(output_tokens=chars // 4, estimated=True)
    reason: StopReason = stop_reason(candidate.get("finishReason"), calls > 0)
    return GatewayResponse(id=response_id, model=model, parts=parts, stop_reason=reason, usage=usage)
