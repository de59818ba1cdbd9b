"""IR ``GatewayRequest`` → a Gemini ``generateContent`` request body.

Owns: ``systemInstruction`` (system text and in-conversation system messages), ``contents`` with
``user``/``model`` roles and their parts (text, ``inlineData`` images and PDFs, ``fileData`` for
URLs, ``functionCall`` with ids, ``functionResponse`` named after the call it answers), the
``thoughtSignature`` round trip (a reasoning part carrying one is put back on the part after it; a
model turn whose function call lost its signature gets Gemini's documented skip value),
``tools.functionDeclarations`` (schemas through ``schema``; builtin tools are dropped like on the
Chat wire, a freeform tool takes one ``input`` string), ``toolConfig`` and ``generationConfig``
(output limit, sampling, stops, thinking, JSON output). Does not pick the model (it is in the
URL, ``common.route``) and does no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from ...core.errors import InvalidRequest
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
from ..tool_list import render_tools
from .common import SKIP_SIGNATURE, unwrap_signature
from .schema import function_parameters, response_schema

_LEVELS = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}


def _media(part: ImagePart | DocumentPart) -> JSON | None:
    mime = part.media_type or ("application/pdf" if isinstance(part, DocumentPart) else "image/png")
    if part.data is not None:
        if isinstance(part, DocumentPart) and part.media_type == "text/plain":
            title = f"{part.title}\n\n" if part.title else ""
            return {"text": title + part.data}
        return {"inlineData": {"mimeType": mime, "data": part.data}}
    if part.url:
        if part.url.startswith("data:") and ";base64," in part.url:
            head, _, data = part.url.partition(";base64,")
            return {"inlineData": {"mimeType": head[5:] or mime, "data": data}}
        return {"fileData": {"mimeType": mime, "fileUri": part.url}}
    return None


def _content(part: TextPart | ImagePart | DocumentPart) -> JSON | None:
    if isinstance(part, TextPart):
        return {"text": part.text} if part.text else None
    return _media(part)


def _result(result: ToolResultPart, names: dict[str, str]) -> list[JSON]:
    name = names.get(result.call_id)
    if name is None:
        raise InvalidRequest(
            f"tool result {result.call_id!r} answers no tool call earlier in the conversation; "
            "Gemini needs the called function's name",
            param="messages",
        )
    texts = [p.text for p in result.content if isinstance(p, TextPart)]
    key = "error" if result.is_error else "result"
    out: list[JSON] = [
        {"functionResponse": {"id": result.call_id, "name": name, "response": {key: "\n".join(texts)}}}
    ]
    for item in result.content:  # images a tool returned follow as ordinary parts
        if not isinstance(item, TextPart):
            media = _media(item)
            if media is not None:
                out.append(media)
    return out


def _user_parts(msg: Message, names: dict[str, str]) -> list[JSON]:
    results: list[JSON] = []
    rest: list[JSON] = []
    for part in msg.parts:
        if isinstance(part, ToolResultPart):
            results.extend(_result(part, names))
        elif isinstance(part, TextPart | ImagePart | DocumentPart):
            rendered = _content(part)
            if rendered is not None:
                rest.append(rendered)
    return results + rest  # function responses first, as Gemini expects after a call turn


def _model_parts(msg: Message) -> list[JSON]:
    out: list[JSON] = []
    pending: str | None = None
    for part in msg.parts:
        if isinstance(part, ReasoningPart):
            pending = unwrap_signature(part.signature) or pending
            continue
        rendered: JSON | None = None
        if isinstance(part, TextPart):
            rendered = {"text": part.text} if part.text.strip() else None
        elif isinstance(part, ToolCallPart):
            rendered = {"functionCall": {"id": part.id, "name": part.name, "args": part.arguments}}
        if rendered is None:
            continue
        if pending is not None:
            rendered["thoughtSignature"] = pending
            pending = None
        out.append(rendered)
    if pending is not None and out and "thoughtSignature" not in out[-1]:
        out[-1]["thoughtSignature"] = pending  # a signature that came on an empty closing part
    calls = [p for p in out if "functionCall" in p]
    if calls and "thoughtSignature" not in calls[0]:
        calls[0]["thoughtSignature"] = SKIP_SIGNATURE
    return out


def _contents(req: GatewayRequest) -> tuple[list[JSON], list[str]]:
    names: dict[str, str] = {}
    contents: list[JSON] = []
    system: list[str] = []
    for msg in req.messages:
        if msg.role == "system":
            system.extend(p.text for p in msg.parts if isinstance(p, TextPart) and p.text.strip())
            continue
        if msg.role == "assistant":
            names.update({p.id: p.name for p in msg.parts if isinstance(p, ToolCallPart)})
            parts, role = _model_parts(msg), "model"
        else:
            parts, role = _user_parts(msg, names), "user"
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return contents, system


def _declaration(tool: ToolSpec) -> JSON | None:
    if tool.kind == "builtin":
        return None
    out: JSON = {"name": tool.name}
    if tool.description:
        out["description"] = tool.description
    if tool.kind == "custom":
        out["parameters"] = {
            "type": "object",
            "properties": {"input": {"type": "string"}},
            "required": ["input"],
        }
        return out
    parameters = function_parameters(tool.name, tool.parameters)
    if parameters is not None:
        out["parameters"] = parameters
    return out


def _tools(req: GatewayRequest) -> list[JSON]:
    declarations = render_tools(req.tools, _declaration)
    return [{"functionDeclarations": declarations}] if declarations else []


def _tool_config(req: GatewayRequest) -> JSON | None:
    choice = req.tool_choice
    if choice is None or choice.mode == "auto":
        return None
    if choice.mode == "none":
        return {"functionCallingConfig": {"mode": "NONE"}}
    config: JSON = {"mode": "ANY"}
    if choice.mode == "tool" and choice.name:
        config["allowedFunctionNames"] = [choice.name]
    return {"functionCallingConfig": config}


def thinking_config(thinking: ThinkingConfig | None) -> JSON | None:
    """``generationConfig.thinkingConfig`` for a request that asked for reasoning (or turned it off)."""
    if thinking is None:
        return None
    if not thinking.enabled:
        return {"thinkingBudget": 0}
    config: JSON = {"includeThoughts": True}
    if thinking.budget_tokens is not None:
        config["thinkingBudget"] = thinking.budget_tokens
    elif thinking.effort in _LEVELS:
        config["thinkingLevel"] = _LEVELS[thinking.effort]
    return config


def _generation(req: GatewayRequest, max_output_tokens: int | None) -> JSON:
    config: JSON = {}
    limit = req.max_tokens
    if max_output_tokens is not None and (limit is None or limit > max_output_tokens):
        limit = max_output_tokens
    if limit is not None:
        config["maxOutputTokens"] = limit
    for key, value in (("temperature", req.temperature), ("topP", req.top_p), ("topK", req.top_k)):
        if value is not None:
            config[key] = value
    if req.stop:
        config["stopSequences"] = list(req.stop)[:5]
    thinking = thinking_config(req.thinking)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    fmt = req.response_format
    if fmt is not None:
        config["responseMimeType"] = "application/json"
        schema = fmt.get("schema")
        if isinstance(schema, dict) and schema:
            config["responseSchema"] = response_schema(str(fmt.get("name") or "response_format"), schema)
    return config


def build_gemini_request(req: GatewayRequest, *, max_output_tokens: int | None) -> dict[str, Any]:
    """The ``generateContent`` body for ``req`` (the model and streaming are in the URL)."""
    contents, system_messages = _contents(req)
    body: dict[str, Any] = {"contents": contents}
    system = [p.text for p in req.system if p.text.strip()] + system_messages
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    tools = _tools(req)
    if tools:
        body["tools"] = tools
        config = _tool_config(req)
        if config is not None:
            body["toolConfig"] = config
    generation = _generation(req, max_output_tokens)
    if generation:
        body["generationConfig"] = generation
    return body


def arguments_json(arguments: JSON) -> str:
    return json.dumps(arguments, ensure_ascii=False)
