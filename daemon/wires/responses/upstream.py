"""IR ``GatewayRequest`` → an OpenAI Responses request body (``POST /v1/responses``).

Owns the A/C → R mapping for a translated call: system text → ``instructions`` (in-conversation
system messages stay in place as ``developer``/``system`` messages), user turns → ``message``
items with ``input_text`` / ``input_image`` / ``input_file`` parts, tool results →
``function_call_output`` or ``custom_tool_call_output`` right where they were, assistant turns →
their ``reasoning`` items (only our own ``gw:oai1:`` ones, back as ``id`` + ``encrypted_content``;
other reasoning means nothing to OpenAI and is dropped), ``message`` items and
``function_call`` / ``custom_tool_call`` items in order. Tools: ``function`` (``strict`` is sent
explicitly: Responses would otherwise enforce strict schemas) and ``custom`` (freeform, with its
grammar); builtin tools of other protocols are dropped like on the Chat wire. Always stateless:
``store: false`` and, for reasoning models, ``include: ["reasoning.encrypted_content"]`` plus
``reasoning.effort`` / ``summary`` when the client asked for thinking. Dropped deliberately:
``stop`` (Responses has none), ``top_k``, sampling parameters on reasoning models (they reject
them), and the provider's ``drop_params``. Does not pick the model or the output limit and does no I/O.
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
from .upstream_items import reasons, unwrap_reasoning

ERROR_PREFIX = "Error: "
# Responses refuses an output limit below this.
MIN_OUTPUT_TOKENS = 16
_EFFORT_WORDS = ("none", "minimal", "low", "medium", "high", "xhigh")
_EFFORT_ALIASES = {"max": "xhigh"}


def _input_part(part: TextPart | ImagePart | DocumentPart) -> JSON | None:
    """One ``input_*`` content part; None when it has nothing an OpenAI upstream can take."""
    if isinstance(part, TextPart):
        return {"type": "input_text", "text": part.text} if part.text else None
    if isinstance(part, ImagePart):
        url = media_url(part)
        return {"type": "input_image", "image_url": url, "detail": "auto"} if url else None
    if part.media_type == "text/plain" and part.data is not None:
        title = f"{part.title}\n\n" if part.title else ""
        return {"type": "input_text", "text": title + part.data}
    if part.data is not None:
        return {"type": "input_file", "filename": part.title or "document.pdf", "file_data": media_url(part)}
    if part.url:
        return {"type": "input_file", "file_url": part.url}
    return None


def _tool_output(result: ToolResultPart, custom: set[str]) -> JSON:
    parts = [p for p in (_input_part(c) for c in result.content) if p is not None]
    output: str | list[JSON] = text_or_parts(parts, "input_text") if parts else ""
    if result.is_error:
        if isinstance(output, str):
            output = ERROR_PREFIX + output
        else:
            output = [{"type": "input_text", "text": ERROR_PREFIX.strip()}, *output]
    kind = "custom_tool_call_output" if result.call_id in custom else "function_call_output"
    return {"type": kind, "call_id": result.call_id, "output": output}


def _user_items(msg: Message, custom: set[str]) -> list[JSON]:
    out: list[JSON] = []
    rest: list[JSON] = []
    for part in msg.parts:
        if isinstance(part, ToolResultPart):
            out.append(_tool_output(part, custom))
        elif isinstance(part, TextPart | ImagePart | DocumentPart):
            rendered = _input_part(part)
            if rendered is not None:
                rest.append(rendered)
    if rest:
        out.append({"type": "message", "role": "user", "content": text_or_parts(rest, "input_text")})
    return out


def _reasoning_item(part: ReasoningPart) -> JSON | None:
    carried = unwrap_reasoning(part.signature)
    if carried is None:
        return None
    item_id, encrypted = carried
    summary = [{"type": "summary_text", "text": part.text}] if part.text else []
    return {"type": "reasoning", "id": item_id, "summary": summary, "encrypted_content": encrypted}


def _call_item(part: ToolCallPart, custom_tools: set[str]) -> JSON:
    if part.name in custom_tools:
        text = part.arguments.get("input")
        if not isinstance(text, str):
            text = json.dumps(part.arguments, ensure_ascii=False)
        return {"type": "custom_tool_call", "call_id": part.id, "name": part.name, "input": text}
    arguments = json.dumps(part.arguments, ensure_ascii=False)
    return {"type": "function_call", "call_id": part.id, "name": part.name, "arguments": arguments}


def _assistant_items(msg: Message, custom_tools: set[str], custom_calls: set[str]) -> list[JSON]:
    out: list[JSON] = []
    texts: list[str] = []

    def flush() -> None:
        if texts:
            content = [{"type": "output_text", "text": "\n\n".join(texts)}]
            out.append({"type": "message", "role": "assistant", "content": content})
            texts.clear()

    for part in msg.parts:
        if isinstance(part, TextPart):
            if part.text.strip():
                texts.append(part.text)
        elif isinstance(part, ReasoningPart):
            item = _reasoning_item(part)
            if item is not None:
                flush()
                out.append(item)
        elif isinstance(part, ToolCallPart):
            flush()
            if part.name in custom_tools:
                custom_calls.add(part.id)
            out.append(_call_item(part, custom_tools))
    flush()
    return out


def _system_text(msg: Message) -> str:
    return "\n\n".join(p.text for p in msg.parts if isinstance(p, TextPart) and p.text.strip())


def _input(req: GatewayRequest, spec: ProviderSpec) -> list[JSON]:
    custom_tools = {t.name for t in req.tools if t.kind == "custom"}
    custom_calls: set[str] = set()
    role = "developer" if spec.quirks.developer_role else "system"
    out: list[JSON] = []
    for msg in req.messages:
        if msg.role == "system":
            text = _system_text(msg)
            if text:
                out.append({"type": "message", "role": role, "content": text})
        elif msg.role == "user":
            out.extend(_user_items(msg, custom_calls))
        else:
            out.extend(_assistant_items(msg, custom_tools, custom_calls))
    return out


def _tool(tool: ToolSpec) -> JSON | None:
    if tool.kind == "builtin":
        return None
    raw = tool.raw if isinstance(tool.raw, dict) else {}
    if isinstance(raw.get("custom"), dict):  # a Chat client's {"type": "custom", "custom": {...}}
        raw = raw["custom"]
    if tool.kind == "custom":
        own = raw.get("description")
        out: JSON = {"type": "custom", "name": tool.name}
        description = own if isinstance(own, str) and raw.get("format") else tool.description
        if description:
            out["description"] = description
        if isinstance(raw.get("format"), dict):
            out["format"] = raw["format"]
        return out
    out = {"type": "function", "name": tool.name}
    if tool.description:
        out["description"] = tool.description
    out["parameters"] = {k: v for k, v in tool.parameters.items() if k != "$schema"}
    out["strict"] = bool(tool.strict)
    return out


def _tools(req: GatewayRequest) -> list[JSON]:
    return render_tools(req.tools, _tool)


def _tool_choice(req: GatewayRequest) -> str | JSON | None:
    choice = req.tool_choice
    if choice is None:
        return None
    if choice.mode == "any":
        return "required"
    if choice.mode == "tool":
        custom = any(t.name == choice.name and t.kind == "custom" for t in req.tools)
        return {"type": "custom" if custom else "function", "name": choice.name}
    return choice.mode


def reasoning_effort(thinking: ThinkingConfig | None) -> str | None:
    """The ``reasoning.effort`` word for a request that asked for reasoning, else None."""
    if thinking is None:
        return None
    effort = _EFFORT_ALIASES.get(thinking.effort or "", thinking.effort)
    if effort in _EFFORT_WORDS:
        return effort
    if not thinking.enabled:
        return None
    if thinking.budget_tokens is None:
        return "medium"
    if thinking.budget_tokens <= 4096:
        return "low"
    return "medium" if thinking.budget_tokens <= 16384 else "high"


def _max_tokens(req: GatewayRequest, limit: int | None) -> int | None:
    if req.max_tokens is None:
        return None
    value = min(req.max_tokens, limit) if limit is not None else req.max_tokens
    return max(MIN_OUTPUT_TOKENS, value)


def build_responses_request(
    req: GatewayRequest, *, model: str, spec: ProviderSpec, max_output_tokens: int | None = None
) -> dict[str, Any]:
    """IR → a stateless Responses body for ``spec``'s provider and upstream ``model``."""
    body: JSON = {"model": model, "input": _input(req, spec), "store": False}
    instructions = "\n\n".join(p.text for p in req.system if p.text.strip())
    if instructions:
        body["instructions"] = instructions
    tools = _tools(req)
    if tools:
        body["tools"] = tools
        choice = _tool_choice(req)
        if choice is not None:
            body["tool_choice"] = choice
        if req.tool_choice is not None and req.tool_choice.disable_parallel:
            body["parallel_tool_calls"] = False
    max_tokens = _max_tokens(req, max_output_tokens)
    if max_tokens is not None:
        body["max_output_tokens"] = max_tokens
    thinker = reasons(model)
    if thinker:
        body["include"] = ["reasoning.encrypted_content"]
        effort = reasoning_effort(req.thinking)
        if effort is not None:
            body["reasoning"] = {"effort": effort}
            if effort != "none":
                body["reasoning"]["summary"] = "auto"
    else:
        if req.temperature is not None:
            body["temperature"] = req.temperature
        if req.top_p is not None:
            body["top_p"] = req.top_p
    if req.response_format is not None:
        fmt: JSON = {"type": "json_schema", "name": req.response_format.get("name") or "response"}
        fmt["schema"] = req.response_format.get("schema", {})
        if req.response_format.get("strict") is not None:
            fmt["strict"] = req.response_format["strict"]
        body["text"] = {"format": fmt}
    if req.user is not None:
        body["user"] = req.user
    if req.stream:
        body["stream"] = True
    for key in spec.quirks.drop_params:
        body.pop(key, None)
    return body
