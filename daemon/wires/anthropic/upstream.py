"""The Anthropic upstream codec for translated requests (Codex or Chat clients served by Claude).

Owns R/C → A request hygiene on top of ``request.render_request``
(protocols.md §4.1-4.3, §4.8, §4.9 #1-3, #13): ``max_tokens`` always present and clamped;
system/developer texts folded into ``system``; consecutive same-role turns merged with tool results
first; orphan tool calls answered by a synthetic error result and orphan results turned into
text; thinking only when the client asked for it, dropped when a forced tool choice or a lost
thinking block would make Anthropic reject the turn; builtin tools, foreign opaque parts,
foreign reasoning and client ``cache_control`` dropped. Also buffered responses → IR (error
responses: ``errors.anthropic_error``). The SSE state machine lives in ``upstream_stream``.
Requests that came from an Anthropic client are rendered unchanged apart from model/max_tokens.
Does not pick the model or the output limit (the router does) and does no I/O.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ...core.errors import UpstreamProtocolError
from ...core.ir import (
    DocumentPart,
    GatewayRequest,
    GatewayResponse,
    ImagePart,
    Message,
    Part,
    ReasoningPart,
    TextPart,
    ThinkingConfig,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from ..tool_list import render_tools
from ..toolids import sanitize_tool_id
from .blocks import render_part
from .request import render_request
from .response import parse_response
from .upstream_stream import AnthropicStreamDecoder, stream_error

__all__ = ["AnthropicStreamDecoder", "build_anthropic_request", "parse_anthropic_response"]

DEFAULT_MAX_TOKENS = 32000
INTERRUPTED_RESULT = "Tool call was interrupted: no result was recorded."


def _uncached(part: Part) -> Part:
    """The part without a client ``cache_control`` (translated clients never meant one)."""
    if isinstance(part, ToolResultPart):
        content = [replace(p, cache_control=None) for p in part.content]
        return replace(part, content=content, cache_control=None)
    if isinstance(part, TextPart | ImagePart | DocumentPart | ToolCallPart):
        return replace(part, cache_control=None)
    return part


def _fold_system(req: GatewayRequest) -> tuple[list[TextPart], list[Message]]:
    """System/developer texts, in order, become the top-level ``system``."""
    system = [TextPart(p.text) for p in req.system if p.text.strip()]
    messages: list[Message] = []
    for msg in req.messages:
        if msg.role == "system":
            system += [TextPart(p.text) for p in msg.parts if isinstance(p, TextPart) and p.text.strip()]
        else:
            messages.append(Message(msg.role, [_uncached(p) for p in msg.parts]))
    return system, messages


def _renders(part: Part) -> bool:
    return render_part(part, sanitize_tool_id) is not None


def _merge_roles(messages: list[Message]) -> list[Message]:
    """Drop turns Anthropic would receive empty, merge same-role neighbours, results first."""
    out: list[Message] = []
    for msg in messages:
        if not any(_renders(p) for p in msg.parts):
            continue
        if out and out[-1].role == msg.role:
            out[-1].parts.extend(msg.parts)
        else:
            out.append(Message(msg.role, list(msg.parts)))
    for msg in out:
        if msg.role == "user":
            msg.parts.sort(key=lambda p: not isinstance(p, ToolResultPart))  # stable
    return out


def _orphan_text(part: ToolResultPart) -> TextPart:
    body = "\n".join(p.text for p in part.content if isinstance(p, TextPart))
    return TextPart(f"[result of tool call {part.call_id}]\n{body}".rstrip())


def _repair_tool_pairs(messages: list[Message]) -> list[Message]:
    """Every ``tool_use`` answered in the very next user turn; results without a call → text."""
    out: list[Message] = []
    pending: list[str] = []  # raw ids of the previous assistant turn's calls
    for msg in messages:
        if msg.role == "assistant":
            if pending:
                out.append(Message("user", _synthetic(pending, set())))
            pending = [p.id for p in msg.parts if isinstance(p, ToolCallPart)]
            out.append(msg)
            continue
        wanted = {sanitize_tool_id(i) for i in pending}
        answered = {sanitize_tool_id(p.call_id) for p in msg.parts if isinstance(p, ToolResultPart)}
        parts: list[Part] = _synthetic(pending, answered)
        for part in msg.parts:
            if isinstance(part, ToolResultPart) and sanitize_tool_id(part.call_id) not in wanted:
                parts.append(_orphan_text(part))
            else:
                parts.append(part)
        parts.sort(key=lambda p: not isinstance(p, ToolResultPart))
        out.append(Message("user", parts))
        pending = []
    if pending:
        out.append(Message("user", _synthetic(pending, set())))
    return out


def _synthetic(call_ids: list[str], answered: set[str]) -> list[Part]:
    return [
        ToolResultPart(call_id=i, content=[TextPart(INTERRUPTED_RESULT)], is_error=True)
        for i in call_ids
        if sanitize_tool_id(i) not in answered
    ]


def _keeps_thinking(req: GatewayRequest, messages: list[Message]) -> ThinkingConfig | None:
    """§4.8: the last assistant tool-use turn must open with its thinking block, else no thinking."""
    thinking = req.thinking
    if thinking is None or not thinking.enabled:
        return None
    last = next((m for m in reversed(messages) if m.role == "assistant"), None)
    if last is None or not any(isinstance(p, ToolCallPart) for p in last.parts):
        return thinking
    first = next((p for p in last.parts if _renders(p)), None)
    return thinking if isinstance(first, ReasoningPart) else None


def _unique_tools(tools: list[ToolSpec]) -> list[ToolSpec]:
    return render_tools(tools, lambda tool: None if tool.kind == "builtin" else tool)


def build_anthropic_request(
    req: GatewayRequest,
    *,
    model: str,
    max_output_tokens: int | None = None,
) -> dict[str, Any]:
    """IR → an Anthropic Messages body for upstream ``model``.

    ``max_tokens`` = the request's, else ``max_output_tokens``, else 32000, clamped to
    ``max_output_tokens`` when known. Anthropic clients' own cache markers are always kept as
    sent; translated requests carry none (the executor adds prefix markers: ``cache_hints``).
    """
    max_tokens = req.max_tokens or max_output_tokens or DEFAULT_MAX_TOKENS
    if max_output_tokens is not None:
        max_tokens = min(max_tokens, max_output_tokens)
    if req.protocol == "anthropic":
        return render_request(replace(req, model=model, max_tokens=max_tokens))
    system, messages = _fold_system(req)
    messages = _repair_tool_pairs(_merge_roles(messages))
    prepared = replace(
        req,
        model=model,
        max_tokens=max_tokens,
        system=system,
        messages=messages,
        tools=_unique_tools(req.tools),
        thinking=_keeps_thinking(req, messages),
    )
    return render_request(prepared)


def parse_anthropic_response(body: dict[str, Any], *, model: str) -> GatewayResponse:
    """A buffered Anthropic Message → IR; ``model`` is the name the client asked for.

    Raises the mapped ``UpstreamError`` for an error body and ``UpstreamProtocolError`` for a
    malformed one.
    """
    if not isinstance(body, dict):
        raise UpstreamProtocolError("Anthropic response is not a JSON object")
    if body.get("type") == "error":
        raise stream_error(body.get("error"), None)
    resp = parse_response(body)
    resp.model = model
    return resp
