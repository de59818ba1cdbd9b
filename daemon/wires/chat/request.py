"""A Chat Completions request body (from a Chat client) → IR ``GatewayRequest``, validated.

Owns the C → IR direction of protocols.md §4.1-4.3: leading system/developer messages become
``system``; consecutive ``tool`` messages (and the user content right after them) merge into one
user turn of ``ToolResultPart``s; unparsable tool arguments become ``{}``. Chat-only fields with
no neutral meaning go to ``extra``. Raises ``InvalidRequest`` naming the field. No I/O.
"""

from __future__ import annotations

from ...core.errors import InvalidRequest
from ...core.ir import (
    JSON,
    DocumentPart,
    GatewayRequest,
    ImagePart,
    Message,
    OpaquePart,
    Part,
    ReasoningPart,
    TextPart,
    ThinkingConfig,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from ...core.validate import check_count_at_most
from ..openai_common import parse_arguments

_NEUTRAL_KEYS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "stream",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "temperature",
        "top_p",
        "top_k",
        "stop",
        "response_format",
        "reasoning_effort",
        "user",
    }
)
_ROLES = ("system", "developer", "user", "assistant", "tool")


def _fail(message: str, param: str | None = None) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def _string(value: object, path: str) -> str | None:
    """An optional string field (None stays None)."""
    if value is not None and not isinstance(value, str):
        raise _fail(f"{path}: must be a string", path)
    return value


def _arguments(raw: object) -> JSON:
    """Tool-call ``arguments`` → an object; unparsable JSON (or JSON that is not an object) → ``{}``.
    ``parse_arguments`` decodes with ``jsonfast``: strict JSON with bounded nesting."""
    return parse_arguments(raw) or {}


def _split_data_url(url: str) -> tuple[str | None, str | None, str | None]:
    """(media_type, base64 data, url): a ``data:`` URL is split, anything else kept as a URL."""
    if url.startswith("data:") and ";base64," in url:
        head, data = url[5:].split(";base64,", 1)
        return head or None, data, None
    return None, None, url


def _content(value: object, path: str) -> list[Part]:
    if value is None:
        return []
    if isinstance(value, str):
        return [TextPart(value)] if value else []
    if not isinstance(value, list):
        raise _fail(f"{path}: must be a string, null or a list of parts", path)
    out: list[Part] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _fail(f"{path}.{i}: content part must be an object", f"{path}.{i}")
        kind = item.get("type")
        if kind in ("text", "refusal"):
            text = item.get(kind)
            if not isinstance(text, str):
                raise _fail(f"{path}.{i}.{kind}: must be a string", f"{path}.{i}.{kind}")
            if text:
                out.append(TextPart(text))
        elif kind == "image_url":
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str):
                raise _fail(f"{path}.{i}.image_url.url: must be a string", f"{path}.{i}.image_url")
            media_type, data, plain = _split_data_url(url)
            out.append(ImagePart(media_type=media_type, data=data, url=plain))
        elif kind == "file" and isinstance(item.get("file"), dict) and "file_data" in item["file"]:
            file = item["file"]
            file_data = _string(file["file_data"], f"{path}.{i}.file.file_data") or ""
            media_type, data, plain = _split_data_url(file_data)
            name = file.get("filename")
            out.append(DocumentPart(media_type, data, plain, name if isinstance(name, str) else None))
        else:
            out.append(OpaquePart("chat", item))
    return out


def _tool_calls(value: object, path: str) -> list[Part]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(f"{path}: must be a list", path)
    out: list[Part] = []
    for i, call in enumerate(value):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or not isinstance(function, dict):
            raise _fail(f"{path}.{i}: must be an object with 'function'", f"{path}.{i}")
        call_id, name = call.get("id"), function.get("name")
        if not isinstance(call_id, str) or not call_id:
            raise _fail(f"{path}.{i}.id: field required", f"{path}.{i}.id")
        if not isinstance(name, str) or not name:
            raise _fail(f"{path}.{i}.function.name: field required", f"{path}.{i}.function.name")
        out.append(ToolCallPart(id=call_id, name=name, arguments=_arguments(function.get("arguments"))))
    return out


def _messages(raw: list[object]) -> tuple[list[TextPart], list[Message]]:
    system: list[TextPart] = []
    messages: list[Message] = []
    merging = False  # the last message is a user turn built from tool messages
    for i, item in enumerate(raw):
        path = f"messages.{i}"
        if not isinstance(item, dict) or item.get("role") not in _ROLES:
            raise _fail(f"{path}.role: must be one of {', '.join(_ROLES)}", f"{path}.role")
        role = item["role"]
        content = _content(item.get("content"), f"{path}.content")
        if role in ("system", "developer"):
            texts = [p for p in content if isinstance(p, TextPart)]
            if messages:
                messages.append(Message("system", [*texts]))
            else:
                system.extend(texts)
            merging = False
        elif role == "tool":
            call_id = item.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise _fail(f"{path}.tool_call_id: field required", f"{path}.tool_call_id")
            result_content = [p for p in content if isinstance(p, TextPart | ImagePart | DocumentPart)]
            result = ToolResultPart(call_id=call_id, content=result_content)
            if merging:
                messages[-1].parts.append(result)
            else:
                messages.append(Message("user", [result]))
                merging = True
        elif role == "user":
            if merging:
                messages[-1].parts.extend(content)
            else:
                messages.append(Message("user", content))
            merging = False
        else:
            parts: list[Part] = []
            reasoning = item.get("reasoning_content") or item.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                parts.append(ReasoningPart(text=reasoning, origin="other"))
            parts.extend(content)
            parts.extend(_tool_calls(item.get("tool_calls"), f"{path}.tool_calls"))
            messages.append(Message("assistant", parts))
            merging = False
    return system, messages


def _tools(raw: object) -> list[ToolSpec]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _fail("tools: must be a list", "tools")
    out: list[ToolSpec] = []
    for i, tool in enumerate(raw):
        if not isinstance(tool, dict):
            raise _fail(f"tools.{i}: must be an object", f"tools.{i}")
        function = tool.get("function")
        if tool.get("type") == "function" and isinstance(function, dict):
            name = function.get("name")
            if not isinstance(name, str) or not name:
                raise _fail(f"tools.{i}.function.name: field required", f"tools.{i}.function.name")
            params = function.get("parameters")
            strict = function.get("strict")
            out.append(
                ToolSpec(
                    name=name,
                    description=_string(function.get("description"), f"tools.{i}.function.description") or "",
                    parameters=params if isinstance(params, dict) else {"type": "object", "properties": {}},
                    kind="function",
                    strict=strict if isinstance(strict, bool) else None,
                    raw=tool,
                )
            )
        elif tool.get("type") == "custom" and isinstance(tool.get("custom"), dict):
            custom = tool["custom"]
            name = custom.get("name")
            if not isinstance(name, str) or not name:
                raise _fail(f"tools.{i}.custom.name: field required", f"tools.{i}.custom.name")
            description = _string(custom.get("description"), f"tools.{i}.custom.description") or ""
            out.append(ToolSpec(name=name, description=description, kind="custom", raw=tool))
        else:
            raise _fail(f"tools.{i}: unsupported tool type {tool.get('type')!r}", f"tools.{i}.type")
    return out


def _tool_choice(raw: object, parallel: object) -> ToolChoice | None:
    if parallel is not None and not isinstance(parallel, bool):
        raise _fail("parallel_tool_calls: must be a boolean", "parallel_tool_calls")
    disable = parallel is False
    if raw is None:
        return ToolChoice(disable_parallel=True) if disable else None
    if raw in ("auto", "none"):
        return ToolChoice(mode="auto" if raw == "auto" else "none", disable_parallel=disable)
    if raw == "required":
        return ToolChoice(mode="any", disable_parallel=disable)
    if isinstance(raw, dict) and isinstance(raw.get("function"), dict):
        name = raw["function"].get("name")
        if isinstance(name, str) and name:
            return ToolChoice(mode="tool", name=name, disable_parallel=disable)
    raise _fail("tool_choice: must be 'auto', 'none', 'required' or a function choice", "tool_choice")


def _number(body: JSON, key: str, integer: bool = False) -> None:
    value = body.get(key)
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if value is not None and (isinstance(value, bool) or not ok):
        raise _fail(f"{key}: must be {'an integer' if integer else 'a number'}", key)


def _response_format(raw: object, extra: JSON) -> JSON | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _fail("response_format: must be an object", "response_format")
    spec = raw.get("json_schema")
    if raw.get("type") == "json_schema" and isinstance(spec, dict):
        strict = spec.get("strict")
        return {
            "name": _string(spec.get("name"), "response_format.json_schema.name") or "response",
            "schema": spec.get("schema") if isinstance(spec.get("schema"), dict) else {},
            "strict": strict if isinstance(strict, bool) else None,
        }
    extra["response_format"] = raw
    return None


def _thinking(effort: str | None) -> ThinkingConfig | None:
    if effort is None:
        return None
    return ThinkingConfig(enabled=effort not in ("none", "minimal"), effort=effort)


def parse_chat_request(body: object) -> GatewayRequest:
    """Validate a Chat Completions request body and convert it to IR."""
    if not isinstance(body, dict):
        raise _fail("Request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _fail("model: field required (non-empty string)", "model")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise _fail("messages: field required (non-empty list)", "messages")
    for key in ("temperature", "top_p"):
        _number(body, key)
    for key in ("max_tokens", "max_completion_tokens", "top_k"):
        _number(body, key, integer=True)
        check_count_at_most(body.get(key), key)
    for key in ("max_tokens", "max_completion_tokens"):
        if body.get(key) is not None and body[key] < 1:
            raise _fail(f"{key}: must be >= 1", key)
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else stop or []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise _fail("stop: must be a string or a list of strings", "stop")
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise _fail("stream: must be a boolean", "stream")
    effort = body.get("reasoning_effort")
    if effort is not None and not isinstance(effort, str):
        raise _fail("reasoning_effort: must be a string", "reasoning_effort")
    user = body.get("user")
    extra: JSON = {k: v for k, v in body.items() if k not in _NEUTRAL_KEYS}
    system, messages = _messages(raw_messages)
    return GatewayRequest(
        protocol="chat",
        model=model,
        messages=messages,
        system=system,
        max_tokens=max_tokens,
        stream=bool(body.get("stream", False)),
        tools=_tools(body.get("tools")),
        tool_choice=_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls")),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        top_k=body.get("top_k"),
        stop=stops,
        thinking=_thinking(effort),
        response_format=_response_format(body.get("response_format"), extra),
        user=user if isinstance(user, str) else None,
        extra=extra,
    )
