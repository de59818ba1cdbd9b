"""Pieces of the Chat Completions response mapping shared by the buffered and streaming decoders.

Owns: finish_reason → stop reason (protocols.md §4.4) and Chat usage → IR ``Usage`` (§4.5).
Error objects and responses are ``wires.openai_errors``'; tool arguments ``wires.openai_common``'s.
No I/O.
"""

from __future__ import annotations

from ...core.ir import StopReason, Usage

_FINISH: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "content_filter": "refusal",
}


def stop_reason(finish_reason: object, has_tool_calls: bool) -> StopReason:
    """§4.4: tool calls decide ``tool_use``; ``tool_calls`` without calls is ``end_turn``."""
    if has_tool_calls:
        return "tool_use"
    if isinstance(finish_reason, str):
        return _FINISH.get(finish_reason, "end_turn")
    return "end_turn"


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from_chat(raw: object) -> Usage | None:
    """Chat ``usage`` → IR (input excludes cache reads/writes). None when there is no usage."""
    if not isinstance(raw, dict):
        return None
    prompt = _int(raw.get("prompt_tokens"))
    details = raw.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    cached = _int(details.get("cached_tokens")) or _int(raw.get("prompt_cache_hit_tokens"))
    written = _int(details.get("cache_write_tokens"))
    out_details = raw.get("completion_tokens_details")
    reasoning = _int(out_details.get("reasoning_tokens")) if isinstance(out_details, dict) else 0
    return Usage(
        input_tokens=max(0, prompt - cached - written),
        output_tokens=_int(raw.get("completion_tokens")),
        cache_read_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=reasoning,
    )
