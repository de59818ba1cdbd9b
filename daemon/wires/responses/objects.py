"""Building blocks of OpenAI Responses output: ids, items, usage and the Response object (§2.5).

Shared by the buffered renderer (``response``) and the SSE writer
(``stream``): gateway-minted ids (``resp_``/``msg_``/``rs_``/``fc_``/``ctc_``), the
output item shapes Codex parses, how a tool call is shown (``function_call`` or, for a
``custom`` tool of the request, ``custom_tool_call`` with the decoded ``input``; namespaced tools
get their ``namespace`` and original name back), IR usage → Responses usage (input includes
cache), stop reason → status / ``incomplete_details`` (§4.4). No I/O.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from ...core.ir import JSON, GatewayRequest, StopReason, Usage
from ..reasoning_codec import encode_thinking
from .tools import NAMESPACE_KEY

_INCOMPLETE: dict[str, str] = {
    "max_tokens": "max_output_tokens",
    "context_window_exceeded": "max_output_tokens",
    "refusal": "content_filter",
}


def response_id(raw: str | None) -> str:
    """A ``resp_`` id: ``raw`` if it already is one, else one derived from it (random if empty)."""
    if raw and raw.startswith("resp_"):
        return raw
    if not raw:
        return f"resp_{uuid.uuid4().hex}"
    return f"resp_{hashlib.sha256(raw.encode('utf-8')).hexdigest()[:32]}"


def item_id(prefix: str, resp_id: str, output_index: int) -> str:
    """A deterministic item id for output item ``output_index`` of response ``resp_id``."""
    digest = hashlib.sha256(f"{resp_id}:{output_index}".encode()).hexdigest()[:32]
    return f"{prefix}_{digest}"


def render_usage(usage: Usage) -> JSON:
    total_input = usage.total_input_tokens
    return {
        "input_tokens": total_input,
        "input_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": total_input + usage.output_tokens,
    }


def outcome(stop_reason: StopReason | None) -> tuple[str, JSON | None]:
    """(status, incomplete_details) for a stop reason."""
    reason = _INCOMPLETE.get(stop_reason or "")
    return ("incomplete", {"reason": reason}) if reason else ("completed", None)


def _tool_choice(request: GatewayRequest) -> str | JSON:
    choice = request.tool_choice
    if choice is None or choice.mode == "auto":
        return "auto"
    if choice.mode == "any":
        return "required"
    if choice.mode == "none":
        return "none"
    return {"type": "function", "name": choice.name}


def response_object(
    request: GatewayRequest,
    *,
    resp_id: str,
    created_at: int,
    status: str,
    output: list[JSON],
    usage: Usage | None,
    error: JSON | None = None,
    incomplete_details: JSON | None = None,
) -> dict[str, Any]:
    """The Response object (the subset of fields clients read, plus the usual echoes)."""
    reasoning = request.extra.get("reasoning")
    text = request.extra.get("text")
    return {
        "id": resp_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": error,
        "incomplete_details": incomplete_details,
        "instructions": None,
        "max_output_tokens": request.max_tokens,
        "model": request.model,
        "output": output,
        "parallel_tool_calls": not (request.tool_choice and request.tool_choice.disable_parallel),
        "previous_response_id": None,
        "reasoning": reasoning if isinstance(reasoning, dict) else {"effort": None, "summary": None},
        "store": bool(request.extra.get("store", False)),
        "temperature": request.temperature,
        "text": text if isinstance(text, dict) else {"format": {"type": "text"}},
        "tool_choice": _tool_choice(request),
        "tools": [],
        "top_p": request.top_p,
        "truncation": "disabled",
        "usage": None if usage is None else render_usage(usage),
        "metadata": {},
    }


# --- output items ---------------------------------------------------------------------------


def message_item(item: str, texts: list[str], *, done: bool) -> JSON:
    return {
        "id": item,
        "type": "message",
        "status": "completed" if done else "in_progress",
        "role": "assistant",
        "content": [{"type": "output_text", "text": t, "annotations": []} for t in texts],
    }


def reasoning_item(
    item: str,
    text: str,
    *,
    signature: str | None = None,
    redacted: str | None = None,
    replayable: bool = False,
) -> JSON:
    """A reasoning item; ``replayable`` (Anthropic origin) adds our ``encrypted_content``."""
    out: JSON = {
        "id": item,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text}] if text else [],
    }
    if replayable and (signature or redacted is not None):
        out["encrypted_content"] = encode_thinking(text, signature or None, redacted)
    return out


class ToolView:
    """How tool calls are shown to the client, from the request's tool list."""

    def __init__(self, request: GatewayRequest) -> None:
        self._custom = {t.name for t in request.tools if t.kind == "custom"}
        raw_map = request.extra.get(NAMESPACE_KEY)
        self._namespaces: dict[str, Any] = raw_map if isinstance(raw_map, dict) else {}

    def is_custom(self, name: str) -> bool:
        return name in self._custom

    def item(self, item: str, call_id: str, name: str, payload: str, *, done: bool) -> JSON:
        """A ``function_call`` (payload = arguments JSON) or ``custom_tool_call`` (payload = input)."""
        origin = self._namespaces.get(name)
        shown = origin["name"] if isinstance(origin, dict) else name
        custom = self.is_custom(name)
        out: JSON = {
            "id": item,
            "type": "custom_tool_call" if custom else "function_call",
            "status": "completed" if done else "in_progress",
            "call_id": call_id,
            "name": shown,
        }
        if isinstance(origin, dict):
            out["namespace"] = origin["namespace"]
        out["input" if custom else "arguments"] = payload
        return out


def custom_input(arguments_json: str) -> str:
    """The freeform ``input`` of a custom tool call whose IR arguments are ``{"input": "..."}``."""
    try:
        value = json.loads(arguments_json) if arguments_json.strip() else {}
    except ValueError:
        return arguments_json
    if isinstance(value, dict):
        text = value.get("input")
        if isinstance(text, str):
            return text
        strings = [v for v in value.values() if isinstance(v, str)]
        if len(strings) == 1:
            return strings[0]
        return "" if not value else json.dumps(value, ensure_ascii=False)
    return value if isinstance(value, str) else arguments_json


def arguments_json(arguments: str) -> str:
    """Function-call arguments as sent to the client: empty → ``"{}"``."""
    return arguments if arguments.strip() else "{}"
