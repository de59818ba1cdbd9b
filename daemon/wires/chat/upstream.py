"""IR ``GatewayRequest`` → an OpenAI Chat Completions request body for one provider.

Owns the A/R → C mapping of protocols.md §4.1-4.3 and the pitfalls of §4.9 that live in the
request: tool results as ``tool`` messages right after their call, tool-id sanitising, no
``cache_control``/``$schema``, builtin tools dropped, max-token field and clamping, and the
provider's ``Quirks`` (dropped params, ``reasoning_content`` echo, usage chunk). The reverse
direction (a Chat client's body → IR) lives in ``request``.
Does not pick the model or the output limit (the router passes them) and does no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from ...core.ir import (
    JSON,
    DocumentPart,
    GatewayRequest,
    ImagePart,
    Message,
    ReasoningPart,
    TextPart,
    ThinkingConfig,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from ...core.providers import ProviderSpec
from ..openai_common import media_url, text_or_parts
from ..tool_list import render_tools
from ..toolids import sanitize_tool_id
from .request import parse_chat_request

__all__ = ["build_chat_request", "parse_chat_request"]

DEFAULT_MAX_TOKENS = 4096
_EFFORT_WORDS = ("none", "minimal", "low", "medium", "high")
ERROR_PREFIX = "Error: "


def _content_part(part: TextPart | ImagePart | DocumentPart) -> JSON | None:
    """A user content part; None when it has nothing a Chat upstream can take."""
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text} if part.text else None
    if isinstance(part, ImagePart):
        url = media_url(part)
        return {"type": "image_url", "image_url": {"url": url}} if url else None
    if part.media_type == "text/plain" and part.data is not None:
        title = f"{part.title}\n\n" if part.title else ""
        return {"type": "text", "text": title + part.data}
    if part.data is not None:
        filename = part.title or "document.pdf"
        return {"type": "file", "file": {"file_data": media_url(part), "filename": filename}}
    if part.url:
        return {"type": "text", "text": f"[document: {part.url}]"}
    return None


def _tool_message(result: ToolResultPart) -> tuple[JSON, list[JSON]]:
    """One ``tool`` message, plus the result's images for a following user message."""
    texts: list[str] = []
    media: list[JSON] = []
    for item in result.content:
        rendered = _content_part(item)
        if rendered is None:
            continue
        if rendered["type"] == "text":
            texts.append(rendered["text"])
        else:
            media.append(rendered)
    text = "\n".join(texts)
    if result.is_error:
        text = ERROR_PREFIX + text
    message = {"role": "tool", "tool_call_id": sanitize_tool_id(result.call_id), "content": text}
    return message, media


def _user_messages(msg: Message) -> list[JSON]:
    out: list[JSON] = []
    carried: list[JSON] = []
    rest: list[JSON] = []
    for part in msg.parts:
        if isinstance(part, ToolResultPart):
            tool_msg, media = _tool_message(part)
            out.append(tool_msg)
            carried.extend(media)
        elif isinstance(part, TextPart | ImagePart | DocumentPart):
            rendered = _content_part(part)
            if rendered is not None:
                rest.append(rendered)
    if carried or rest:
        out.append({"role": "user", "content": text_or_parts(carried + rest, "text")})
    return out


def _assistant_message(msg: Message, echo_reasoning: bool) -> JSON | None:
    texts = [p.text for p in msg.parts if isinstance(p, TextPart) and p.text.strip()]
    calls = [
        {
            "id": sanitize_tool_id(p.id),
            "type": "function",
            "function": {"name": p.name, "arguments": json.dumps(p.arguments, ensure_ascii=False)},
        }
        for p in msg.parts
        if isinstance(p, ToolCallPart)
    ]
    if not texts and not calls:
        return None
    out: JSON = {"role": "assistant", "content": "\n\n".join(texts) if texts else None}
    if calls:
        out["tool_calls"] = calls
        if echo_reasoning:
            reasoning = [p.text for p in msg.parts if isinstance(p, ReasoningPart) and p.text]
            out["reasoning_content"] = "\n\n".join(reasoning)
    return out


def _messages(req: GatewayRequest, spec: ProviderSpec) -> list[JSON]:
    out: list[JSON] = []
    system = "\n\n".join(p.text for p in req.system if p.text.strip())
    if system:
        out.append({"role": "system", "content": system})
    for msg in req.messages:
        if msg.role == "system":
            text = "\n\n".join(p.text for p in msg.parts if isinstance(p, TextPart) and p.text.strip())
            if text:
                out.append({"role": "system", "content": text})
        elif msg.role == "user":
            out.extend(_user_messages(msg))
        else:
            assistant = _assistant_message(msg, spec.quirks.echo_reasoning_content)
            if assistant is not None:
                out.append(assistant)
    if spec.quirks.drop_message_name:
        for message in out:
            message.pop("name", None)
    return out


def _tool(tool: ToolSpec) -> JSON | None:
    if tool.kind == "builtin":
        return None
    if tool.kind == "custom":
        parameters: JSON = {
            "type": "object",
            "properties": {"input": {"type": "string"}},
            "required": ["input"],
        }
    else:
        parameters = {k: v for k, v in tool.parameters.items() if k != "$schema"}
    function: JSON = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    function["parameters"] = parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _tools(req: GatewayRequest) -> list[JSON]:
    return render_tools(req.tools, _tool)


def _tool_choice(req: GatewayRequest) -> str | JSON | None:
    choice = req.tool_choice
    if choice is None:
        return None
    if choice.mode == "any":
        return "required"
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def reasoning_effort(thinking: ThinkingConfig | None) -> str | None:
    """The ``reasoning_effort`` word for a request that asked for reasoning, else None."""
    if thinking is None:
        return None
    if thinking.effort in _EFFORT_WORDS:
        return thinking.effort
    if not thinking.enabled or thinking.budget_tokens is None:
        return None
    if thinking.budget_tokens <= 4096:
        return "low"
    return "medium" if thinking.budget_tokens <= 16384 else "high"


def _max_tokens(req: GatewayRequest, spec: ProviderSpec, limit: int | None) -> int | None:
    if req.max_tokens is not None:
        return min(req.max_tokens, limit) if limit is not None else req.max_tokens
    if spec.quirks.always_send_max_tokens:
        return limit or DEFAULT_MAX_TOKENS
    return None


def build_chat_request(
    req: GatewayRequest, *, model: str, spec: ProviderSpec, max_output_tokens: int | None = None
) -> dict[str, Any]:
    """IR → a Chat Completions body for ``spec``'s provider and upstream ``model``."""
    body: JSON = {"model": model, "messages": _messages(req, spec)}
    tools = _tools(req)
    if tools:
        body["tools"] = tools
        choice = _tool_choice(req)
        if choice is not None:
            body["tool_choice"] = choice
        if req.tool_choice is not None and req.tool_choice.disable_parallel:
            body["parallel_tool_calls"] = False
    max_tokens = _max_tokens(req, spec, max_output_tokens)
    if max_tokens is not None:
        body[spec.quirks.max_tokens_field] = max_tokens
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.stop:
        body["stop"] = list(req.stop)
    if req.response_format is not None:
        schema: JSON = {"name": req.response_format.get("name") or "response"}
        schema["schema"] = req.response_format.get("schema", {})
        if req.response_format.get("strict") is not None:
            schema["strict"] = req.response_format["strict"]
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    effort = reasoning_effort(req.thinking)
    if effort is not None:
        body["reasoning_effort"] = effort
    if req.user is not None:
        body["user"] = req.user
    if req.stream:
        body["stream"] = True
        if spec.quirks.stream_usage:
            body["stream_options"] = {"include_usage": True}
    for key in spec.quirks.drop_params:
        body.pop(key, None)
    return body
