"""Anthropic Messages request bodies ↔ IR ``GatewayRequest``.

``parse_request`` validates a client's ``POST /v1/messages`` (or count_tokens) body and turns it
into IR, raising ``InvalidRequest`` that names the offending field. ``render_request`` turns IR
back into an Anthropic body for an Anthropic upstream, applying the API's hygiene rules (no
empty text, no gateway reasoning, sanitised tool ids). Per-block mapping lives in
``blocks``; responses and SSE live in ``response``. No I/O.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import InvalidRequest
from ...core.ir import (
    JSON,
    GatewayRequest,
    Message,
    Part,
    TextPart,
    ThinkingConfig,
    ToolChoice,
    ToolSpec,
)
from ...core.validate import check_count_at_most
from ..toolids import sanitize_tool_id
from .blocks import fail, fast_block, is_blank, parse_block, render_part

# Body keys with a neutral IR meaning; every other key is kept in ``GatewayRequest.extra``.
_NEUTRAL_KEYS = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "stream",
        "tools",
        "tool_choice",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "thinking",
        "output_config",
    }
)
_ROLES = ("user", "assistant", "system")
_CHOICE_MODES = ("auto", "any", "none", "tool")
# Budget for clients that asked for reasoning by effort word only (protocols.md §4.8).
_EFFORT_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32000, "max": 32000}
_MIN_BUDGET = 1024


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_text_blocks(value: object, path: str) -> list[TextPart]:
    """A ``system`` value: a string or a list of text blocks."""
    if isinstance(value, str):
        return [TextPart(value)]
    if not isinstance(value, list):
        raise fail(f"{path}: must be a string or a list of text blocks", path)
    out: list[TextPart] = []
    for i, block in enumerate(value):
        part = parse_block(block, f"{path}.{i}")
        if not isinstance(part, TextPart):
            raise fail(f"{path}.{i}: only text blocks are allowed here", f"{path}.{i}")
        out.append(part)
    return out


def _parse_message(raw: object, i: int) -> Message:
    """One message; the common well-formed shape (a user or assistant message whose blocks all
    take ``fast_block``) is built in one pass, anything else by ``_parse_message_checked``."""
    if type(raw) is dict:
        role, content = raw.get("role"), raw.get("content")
        if (role == "user" or role == "assistant") and type(content) is list:
            parts: list[Part] = []
            for block in content:
                part = fast_block(block) if type(block) is dict else None
                if part is None:
                    break
                parts.append(part)
            else:
                return Message(role, parts)
    return _parse_message_checked(raw, i)


def _parse_message_checked(raw: object, i: int) -> Message:
    path = f"messages.{i}"
    if not isinstance(raw, dict):
        raise fail(f"{path}: must be an object with 'role' and 'content'", path)
    role = raw.get("role")
    if role not in _ROLES:
        raise fail(f"{path}.role: must be one of 'user', 'assistant', 'system'", f"{path}.role")
    content = raw.get("content")
    if role == "system":
        parts: list[Part] = [*_parse_text_blocks(content, f"{path}.content")]
        return Message("system", parts)
    if isinstance(content, str):
        return Message(role, [TextPart(content)])
    if not isinstance(content, list):
        raise fail(f"{path}.content: must be a string or a list of content blocks", f"{path}.content")
    try:
        return Message(role, [parse_block(b, path) for b in content])
    except InvalidRequest:
        # Again, naming each block, so the error points at the offending one.
        return Message(role, [parse_block(b, f"{path}.content.{j}") for j, b in enumerate(content)])


def _parse_tool(raw: object, i: int) -> ToolSpec:
    path = f"tools.{i}"
    if not isinstance(raw, dict):
        raise fail(f"{path}: must be an object", path)
    kind = raw.get("type")
    name = raw.get("name")
    if kind not in (None, "custom"):
        if not isinstance(kind, str):
            raise fail(f"{path}.type: must be a string", f"{path}.type")
        return ToolSpec(name=name if isinstance(name, str) else kind, kind="builtin", raw=raw)
    if not isinstance(name, str) or not name:
        raise fail(f"{path}.name: field required (non-empty string)", f"{path}.name")
    schema = raw.get("input_schema", {"type": "object", "properties": {}})
    if not isinstance(schema, dict):
        raise fail(f"{path}.input_schema: must be an object", f"{path}.input_schema")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise fail(f"{path}.description: must be a string", f"{path}.description")
    strict = raw.get("strict")
    return ToolSpec(
        name=name,
        description=description,
        parameters=schema,
        kind="function",
        strict=strict if isinstance(strict, bool) else None,
        raw=raw,
    )


def _parse_tool_choice(raw: object) -> ToolChoice:
    if not isinstance(raw, dict) or raw.get("type") not in _CHOICE_MODES:
        raise fail("tool_choice: must be an object with type auto, any, tool or none", "tool_choice")
    name = raw.get("name")
    if raw["type"] == "tool" and (not isinstance(name, str) or not name):
        raise fail("tool_choice.name: required when type is 'tool'", "tool_choice.name")
    disable = raw.get("disable_parallel_tool_use", False)
    if not isinstance(disable, bool):
        raise fail("tool_choice.disable_parallel_tool_use: must be a boolean", "tool_choice")
    return ToolChoice(
        mode=raw["type"], name=name if raw["type"] == "tool" else None, disable_parallel=disable
    )


def _parse_thinking(raw: object, effort: str | None) -> ThinkingConfig | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise fail("thinking: must be an object", "thinking")
    kind = raw.get("type")
    if kind == "disabled":
        return None
    if kind == "adaptive":
        return ThinkingConfig(enabled=True, adaptive=True, effort=effort)
    if kind == "enabled":
        budget = raw.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
            raise fail("thinking.budget_tokens: must be a positive integer", "thinking.budget_tokens")
        check_count_at_most(budget, "thinking.budget_tokens")
        return ThinkingConfig(enabled=True, budget_tokens=budget, effort=effort)
    raise fail("thinking.type: must be 'enabled', 'adaptive' or 'disabled'", "thinking.type")


def _check_scalars(body: JSON, require_max_tokens: bool) -> None:
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        if require_max_tokens:
            raise fail("max_tokens: field required", "max_tokens")
    elif not _is_int(max_tokens) or max_tokens < 1:
        raise fail("max_tokens: must be an integer >= 1", "max_tokens")
    check_count_at_most(max_tokens, "max_tokens")
    for key in ("temperature", "top_p"):
        if body.get(key) is not None and not _is_number(body[key]):
            raise fail(f"{key}: must be a number", key)
    if body.get("top_k") is not None and not _is_int(body["top_k"]):
        raise fail("top_k: must be an integer", "top_k")
    check_count_at_most(body.get("top_k"), "top_k")
    stops = body.get("stop_sequences")
    if stops is not None and (not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)):
        raise fail("stop_sequences: must be a list of strings", "stop_sequences")
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise fail("stream: must be a boolean", "stream")
    if body.get("tools") is not None and not isinstance(body["tools"], list):
        raise fail("tools: must be a list", "tools")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise fail("metadata: must be an object", "metadata")
    if isinstance(metadata, dict) and not isinstance(metadata.get("user_id"), str | None):
        raise fail("metadata.user_id: must be a string", "metadata.user_id")


def _parse_output_config(body: JSON, extra: JSON) -> tuple[str | None, JSON | None]:
    """(effort, response_format) from ``output_config``; unknown keys stay in ``extra``."""
    raw = body.get("output_config")
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        raise fail("output_config: must be an object", "output_config")
    rest = dict(raw)
    effort = rest.pop("effort", None)
    if effort is not None and not isinstance(effort, str):
        raise fail("output_config.effort: must be a string", "output_config.effort")
    fmt = rest.get("format")
    response_format: JSON | None = None
    if fmt is not None:
        if not isinstance(fmt, dict):
            raise fail("output_config.format: must be an object", "output_config.format")
        if fmt.get("type") == "json_schema":
            if not isinstance(fmt.get("schema"), dict):
                raise fail("output_config.format.schema: must be an object", "output_config.format.schema")
            response_format = {"name": "response", "schema": fmt["schema"], "strict": None}
            del rest["format"]
    if rest:
        extra["output_config"] = rest
    return effort, response_format


def parse_request(body: object, *, require_max_tokens: bool = True) -> GatewayRequest:
    """Validate an Anthropic Messages request body and convert it to IR.

    ``require_max_tokens=False`` is for count_tokens, whose body has no ``max_tokens``.
    Raises ``InvalidRequest`` (with ``param`` naming the field) for a malformed body.
    """
    if not isinstance(body, dict):
        raise fail("Request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise fail("model: field required (non-empty string)", "model")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise fail("messages: field required (list of messages)", "messages")
    if not messages:
        raise fail("messages: at least one message is required", "messages")
    _check_scalars(body, require_max_tokens)
    extra: JSON = {k: v for k, v in body.items() if k not in _NEUTRAL_KEYS}
    effort, response_format = _parse_output_config(body, extra)
    thinking = _parse_thinking(body.get("thinking"), effort)
    if effort is not None and thinking is None:
        extra["output_config"] = {**extra.get("output_config", {}), "effort": effort}
    if isinstance(body.get("thinking"), dict) and thinking is not None:
        extra["thinking"] = body["thinking"]  # keeps `display` and future keys for Anthropic
    raw_tools = body.get("tools") or []
    tool_choice = body.get("tool_choice")
    metadata = body.get("metadata") or {}
    return GatewayRequest(
        protocol="anthropic",
        model=model,
        messages=[_parse_message(m, i) for i, m in enumerate(messages)],
        system=[] if body.get("system") is None else _parse_text_blocks(body["system"], "system"),
        max_tokens=body.get("max_tokens"),
        stream=bool(body.get("stream", False)),
        tools=[_parse_tool(t, i) for i, t in enumerate(raw_tools)],
        tool_choice=None if tool_choice is None else _parse_tool_choice(tool_choice),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        top_k=body.get("top_k"),
        stop=list(body.get("stop_sequences") or []),
        thinking=thinking,
        response_format=response_format,
        user=metadata.get("user_id"),
        extra=extra,
    )


# --- IR → Anthropic ------------------------------------------------------------------------


def _render_tool(tool: ToolSpec, same_protocol: bool) -> JSON | None:
    if tool.raw is not None and same_protocol:
        return tool.raw
    if tool.kind == "builtin":
        return None  # another protocol's hosted tool: Anthropic cannot run it
    schema = tool.parameters
    description = tool.description
    if tool.kind == "custom":
        schema = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}
    out: JSON = {"name": tool.name}
    if description:
        out["description"] = description
    out["input_schema"] = schema
    if tool.strict is not None:
        out["strict"] = tool.strict
    return out


def _render_thinking(req: GatewayRequest, body: JSON) -> None:
    t = req.thinking
    if t is None or not t.enabled:
        return
    if req.protocol != "anthropic" and req.tool_choice and req.tool_choice.mode in ("any", "tool"):
        return  # Anthropic rejects thinking with a forced tool choice (protocols.md §4.9 #13)
    if t.adaptive:
        body["thinking"] = {"type": "adaptive"}
        if t.effort:
            body["output_config"] = {"effort": t.effort}
    elif t.budget_tokens is not None and req.protocol == "anthropic":
        body["thinking"] = {"type": "enabled", "budget_tokens": t.budget_tokens}
        if t.effort:
            body["output_config"] = {"effort": t.effort}
    else:
        budget = t.budget_tokens or _EFFORT_BUDGET.get(t.effort or "", 0)
        if req.max_tokens is not None:
            budget = min(budget, req.max_tokens - 1)
        if budget < _MIN_BUDGET:
            return
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if req.protocol != "anthropic":
        body.pop("temperature", None)
        body.pop("top_k", None)


def _merge_extra(body: JSON, extra: JSON) -> None:
    """Same-protocol passthrough: extras fill in; dicts merge under what IR rendered."""
    for key, value in extra.items():
        if key == "thinking" and "thinking" not in body:
            continue  # thinking was dropped on purpose; don't resurrect it
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**value, **body[key]}
        elif key not in body:
            body[key] = value


def render_request(req: GatewayRequest) -> dict[str, Any]:
    """IR → an Anthropic Messages body (for an Anthropic upstream).

    ``max_tokens`` is omitted when the IR has none (count_tokens); the caller fills it for
    Messages. Client extras are forwarded only when the client spoke Anthropic too.
    """
    same = req.protocol == "anthropic"
    body: JSON = {"model": req.model}
    messages: list[JSON] = []
    for msg in req.messages:
        blocks = [b for b in (render_part(p, sanitize_tool_id) for p in msg.parts) if b is not None]
        if blocks:
            messages.append({"role": msg.role, "content": blocks})
    body["messages"] = messages
    system = [b for b in (render_part(p) for p in req.system if not is_blank(p.text)) if b is not None]
    if system:
        body["system"] = system
    if req.max_tokens is not None:
        body["max_tokens"] = req.max_tokens
    tools = [t for t in (_render_tool(s, same) for s in req.tools) if t is not None]
    if tools:
        body["tools"] = tools
        if req.tool_choice is not None:
            choice: JSON = {"type": req.tool_choice.mode}
            if req.tool_choice.mode == "tool":
                choice["name"] = req.tool_choice.name
            if req.tool_choice.disable_parallel:
                choice["disable_parallel_tool_use"] = True
            body["tool_choice"] = choice
    for key, value in (("temperature", req.temperature), ("top_p", req.top_p), ("top_k", req.top_k)):
        if value is not None:
            body[key] = value
    if req.stop:
        body["stop_sequences"] = list(req.stop)
    if req.stream:
        body["stream"] = True  # omitted otherwise: count_tokens rejects the field
    _render_thinking(req, body)
    if req.response_format is not None:
        fmt = {"type": "json_schema", "schema": req.response_format.get("schema", {})}
        body["output_config"] = {**body.get("output_config", {}), "format": fmt}
    if req.user is not None:
        body["metadata"] = {"user_id": req.user}
    if same:
        _merge_extra(body, req.extra)
    return body
