"""Pieces of the Gemini wire shared by the request builder and the two response decoders.

Owns: the endpoint route (``generateContent`` or ``streamGenerateContent?alt=sse`` under
``/models/<model>``), ``usageMetadata`` → IR ``Usage`` (``promptTokenCount`` includes
``cachedContentTokenCount``; ``thoughtsTokenCount`` is billed as output), ``finishReason`` →
IR stop reason, and how a Gemini ``thoughtSignature`` rides in the IR: as the signature of a
``ReasoningPart`` placed just before the part it was attached to, prefixed ``gw:gem1:`` so no
Anthropic upstream ever receives it (the ``gw:`` rule) while Anthropic and Responses clients
replay it intact. Pure; no I/O.
"""

from __future__ import annotations

from ...core.ir import StopReason, Usage
from ..toolids import GATEWAY_SIGNATURE_PREFIX

SIGNATURE_PREFIX = GATEWAY_SIGNATURE_PREFIX + "gem1:"
# Gemini's documented stand-in for a function-call turn whose signature was lost (a history
# from a client that cannot replay reasoning): validation is skipped for that part.
SKIP_SIGNATURE = "skip_thought_signature_validator"
_REFUSALS = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE"}
)


def route(model: str, *, stream: bool) -> tuple[str, str]:
    """(path, query) of a call for ``model`` under the provider's base URL."""
    if stream:
        return f"/models/{model}:streamGenerateContent", "alt=sse"
    return f"/models/{model}:generateContent", ""


def wrap_signature(signature: str) -> str:
    return SIGNATURE_PREFIX + signature


def unwrap_signature(signature: str | None) -> str | None:
    """The Gemini ``thoughtSignature`` inside one of our reasoning signatures, else None."""
    if signature and signature.startswith(SIGNATURE_PREFIX) and len(signature) > len(SIGNATURE_PREFIX):
        return signature[len(SIGNATURE_PREFIX) :]
    return None


def _count(raw: dict[str, object], key: str) -> int:
    value = raw.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_from_gemini(raw: object) -> Usage | None:
    """``usageMetadata`` → IR usage; None when absent or not an object."""
    if not isinstance(raw, dict):
        return None
    prompt = _count(raw, "promptTokenCount") + _count(raw, "toolUsePromptTokenCount")
    cached = min(_count(raw, "cachedContentTokenCount"), prompt)
    thoughts = _count(raw, "thoughtsTokenCount")
    return Usage(
        input_tokens=prompt - cached,
        output_tokens=_count(raw, "candidatesTokenCount") + thoughts,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
    )


def stop_reason(finish: object, has_tool_calls: bool) -> StopReason:
    """A candidate's ``finishReason`` → IR (a turn that called tools ends in ``tool_use``)."""
    if finish == "MAX_TOKENS":
        return "max_tokens"
    if finish in _REFUSALS:
        return "refusal"
    return "tool_use" if has_tool_calls else "end_turn"
