"""OpenAI Responses request bodies (``POST /v1/responses``) → IR ``GatewayRequest``, validated.

Owns the R → IR direction of protocols.md §2.2-2.4 and §4.1: ``instructions`` and leading
``system``/``developer`` messages become ``system`` (later ones stay in place as system
messages); consecutive assistant-side items (assistant messages, reasoning, ``function_call``,
``custom_tool_call``) group into one assistant message and consecutive tool outputs into one user
message; ``reasoning`` items whose ``encrypted_content`` is ours become Anthropic thinking again,
any other reasoning/hosted item rides along as ``OpaquePart("responses", item)``; Codex's
``additional_tools`` item adds tools. Tool mapping lives in ``tools``. Fields with no
neutral meaning (``store``, ``include``, ``text``, ``reasoning``, ``prompt_cache_key``, …) are
kept verbatim in ``extra``. Raises ``InvalidRequest`` naming the field. No I/O.
"""

from __future__ import annotations

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
    ToolResultPart,
    ToolSpec,
)
from ...core.validate import check_count_at_most, is_unicode_text
from ..openai_common import parse_arguments
from ..reasoning_codec import decode_thinking
from .tools import NAMESPACE_KEY, fail, flat_name_for, parse_tool_choice, parse_tools

_NEUTRAL_KEYS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "stream",
        "user",
        NAMESPACE_KEY,  # the gateway's own bookkeeping in ``extra``; a client's value is dropped
    }
)
_ROLES = ("user", "assistant", "system", "developer")
_TOOL_OUTPUTS = ("function_call_output", "custom_tool_call_output")
_NO_REASONING = ("none", "minimal")
ResultContent = list[TextPart | ImagePart | DocumentPart]


def _arguments(raw: str | JSON | None) -> JSON:
    """``function_call.arguments`` → an object; unparsable JSON (or not an object) → ``{}``.
    ``parse_arguments`` decodes with ``jsonfast``: strict JSON with bounded nesting."""
    return parse_arguments(raw) or {}


def _replayed_thinking(value: object) -> ReasoningPart | None:
    """Our own thinking block inside ``encrypted_content``, or None (then the item rides opaque).

    ``decode_thinking`` parses with ``core.jsonfast``: a crafted payload nested too deep, or one
    whose strings hold lone surrogates, is treated as not ours."""
    part = decode_thinking(value)
    if part is None:
        return None
    texts = (part.text, part.signature or "", part.redacted or "")
    return part if all(is_unicode_text(t) for t in texts) else None


def _split_data_url(url: str) -> tuple[str | None, str | None, str | None]:
    """(media_type, base64 data, url): a ``data:`` URL is split, anything else kept as a URL."""
    if url.startswith("data:") and ";base64," in url:
        head, data = url[5:].split(";base64,", 1)
        return head or None, data, None
    return None, None, url


def _str_field(item: JSON, key: str, path: str, *, allow_empty: bool = False) -> str:
    value = item.get(key)
    if not isinstance(value, str) or (not value and not allow_empty):
        raise fail(f"{path}.{key}: field required (string)", f"{path}.{key}")
    return value


def _media_part(part: JSON, kind: str) -> ImagePart | DocumentPart | None:
    """An ``input_image``/``input_file`` part; None when it only references a stored file."""
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            return None
        media_type, data, plain = _split_data_url(url)
        return ImagePart(media_type=media_type, data=data, url=plain)
    name = part.get("filename")
    title = name if isinstance(name, str) else None
    file_data, file_url = part.get("file_data"), part.get("file_url")
    if isinstance(file_data, str) and file_data:
        media_type, data, plain = _split_data_url(file_data)
        if data is None and plain is not None:  # bare base64 without a data: prefix
            media_type, data = "application/pdf", plain
        return DocumentPart(media_type=media_type, data=data, title=title)
    if isinstance(file_url, str) and file_url:
        return DocumentPart(url=file_url, title=title)
    return None


def _content(value: object, path: str) -> list[Part]:
    """A message's ``content``: a string or a list of ``input_*``/``output_text``/``refusal`` parts."""
    if isinstance(value, str):
        return [TextPart(value)] if value else []
    if not isinstance(value, list):
        raise fail(f"{path}: must be a string or a list of content parts", path)
    out: list[Part] = []
    for i, part in enumerate(value):
        ppath = f"{path}.{i}"
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise fail(f"{ppath}: content part must be an object with a string 'type'", ppath)
        kind = part["type"]
        if kind in ("input_text", "output_text", "text", "refusal"):
            key = "refusal" if kind == "refusal" else "text"
            text = _str_field(part, key, ppath, allow_empty=True)
            if text:
                out.append(TextPart(text))
        elif kind in ("input_image", "input_file"):
            media = _media_part(part, kind)
            out.append(media if media is not None else OpaquePart("responses", part))
        else:
            out.append(OpaquePart("responses", part))
    return out


def _output(value: object, path: str) -> ResultContent:
    """A tool output: a string or a list of ``input_text``/``input_image``/``input_file`` parts."""
    if value is None:
        return []
    if isinstance(value, str):
        return [TextPart(value)] if value else []
    if not isinstance(value, list):
        raise fail(f"{path}: must be a string or a list of input parts", path)
    return [p for p in _content(value, path) if isinstance(p, TextPart | ImagePart | DocumentPart)]


class _Turns:
    """Accumulates IR messages with the R → IR grouping rules."""

    def __init__(self) -> None:
        self.system: list[TextPart] = []
        self.messages: list[Message] = []
        self._results_open = False  # the last message is a user turn made of tool outputs

    def system_text(self, parts: list[Part]) -> None:
        texts = [p for p in parts if isinstance(p, TextPart)]
        if not self.messages:
            self.system.extend(texts)
        elif texts:
            parts_: list[Part] = [*texts]
            self.messages.append(Message("system", parts_))
            self._results_open = False

    def user(self, parts: list[Part]) -> None:
        if parts:
            self.messages.append(Message("user", parts))
        self._results_open = False

    def assistant(self, parts: list[Part]) -> None:
        if not parts:
            return
        last = self.messages[-1] if self.messages else None
        if last is not None and last.role == "assistant":
            last.parts.extend(parts)
        else:
            self.messages.append(Message("assistant", parts))
        self._results_open = False

    def result(self, part: Part) -> None:
        if self._results_open:
            self.messages[-1].parts.append(part)
        else:
            self.messages.append(Message("user", [part]))
            self._results_open = True


def _message(item: JSON, path: str, turns: _Turns) -> None:
    role = item.get("role")
    if role not in _ROLES:
        raise fail(f"{path}.role: must be one of {', '.join(_ROLES)}", f"{path}.role")
    parts = _content(item.get("content"), f"{path}.content")
    if role in ("system", "developer"):
        turns.system_text(parts)
    elif role == "user":
        turns.user(parts)
    else:
        turns.assistant(parts)


def _item(item: object, path: str, turns: _Turns, extra: JSON) -> None:
    if not isinstance(item, dict):
        raise fail(f"{path}: input item must be an object", path)
    kind = item.get("type", "message" if "role" in item else None)
    if not isinstance(kind, str):
        raise fail(f"{path}.type: field required (string)", f"{path}.type")
    if kind == "message":
        _message(item, path, turns)
    elif kind == "function_call":
        name = flat_name_for(extra, item.get("namespace"), _str_field(item, "name", path))
        raw_args = item.get("arguments")
        if raw_args is not None and not isinstance(raw_args, str | dict):
            raise fail(f"{path}.arguments: must be a JSON string", f"{path}.arguments")
        arguments = _arguments(raw_args)
        turns.assistant([ToolCallPart(id=_str_field(item, "call_id", path), name=name, arguments=arguments)])
    elif kind == "custom_tool_call":
        name = flat_name_for(extra, item.get("namespace"), _str_field(item, "name", path))
        text = _str_field(item, "input", path, allow_empty=True)
        turns.assistant(
            [ToolCallPart(id=_str_field(item, "call_id", path), name=name, arguments={"input": text})]
        )
    elif kind in _TOOL_OUTPUTS:
        call_id = _str_field(item, "call_id", path)
        turns.result(ToolResultPart(call_id=call_id, content=_output(item.get("output"), f"{path}.output")))
    elif kind == "reasoning":
        ours = _replayed_thinking(item.get("encrypted_content"))
        turns.assistant([ours if ours is not None else OpaquePart("responses", item)])
    elif kind == "additional_tools":
        pass  # its tools were collected before the items (see _collect_tools)
    elif kind.endswith("_output"):
        turns.result(OpaquePart("responses", item))
    else:  # local_shell_call, item_reference, compaction, web_search_call, …
        turns.assistant([OpaquePart("responses", item)])


def _collect_tools(body: JSON, items: list[object], extra: JSON) -> list[ToolSpec]:
    tools: list[ToolSpec] = []
    parse_tools(body.get("tools"), "tools", tools, extra)
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("type") == "additional_tools":
            parse_tools(item.get("tools"), f"input.{i}.tools", tools, extra)
    return tools


def _check_scalars(body: JSON) -> None:
    max_tokens = body.get("max_output_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)):
        raise fail("max_output_tokens: must be an integer", "max_output_tokens")
    if max_tokens is not None and max_tokens < 1:
        raise fail("max_output_tokens: must be >= 1", "max_output_tokens")
    check_count_at_most(max_tokens, "max_output_tokens")
    for key in ("temperature", "top_p"):
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise fail(f"{key}: must be a number", key)
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise fail("stream: must be a boolean", "stream")
    for key in ("instructions", "user"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise fail(f"{key}: must be a string", key)
    for key in ("reasoning", "text"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            raise fail(f"{key}: must be an object", key)


def _thinking(reasoning: object) -> ThinkingConfig | None:
    if not isinstance(reasoning, dict):
        return None
    effort = reasoning.get("effort")
    if effort is not None and not isinstance(effort, str):
        raise fail("reasoning.effort: must be a string", "reasoning.effort")
    if effort is None:
        return ThinkingConfig(enabled=True) if reasoning.get("summary") else None
    return ThinkingConfig(enabled=effort not in _NO_REASONING, effort=effort)


def _response_format(text: object) -> JSON | None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    schema, strict, name = fmt.get("schema"), fmt.get("strict"), fmt.get("name")
    if not isinstance(schema, dict):
        raise fail("text.format.schema: must be an object", "text.format.schema")
    return {
        "name": name if isinstance(name, str) and name else "response",
        "schema": schema,
        "strict": strict if isinstance(strict, bool) else None,
    }


def parse_responses_request(body: object) -> GatewayRequest:
    """Validate a Responses request body and convert it to IR (``protocol="responses"``)."""
    if not isinstance(body, dict):
        raise fail("Request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise fail("model: field required (non-empty string)", "model")
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        items: list[object] = [{"type": "message", "role": "user", "content": raw_input}]
    elif isinstance(raw_input, list):
        items = raw_input
    else:
        raise fail("input: field required (string or list of items)", "input")
    _check_scalars(body)
    extra: JSON = {k: v for k, v in body.items() if k not in _NEUTRAL_KEYS}
    tools = _collect_tools(body, items, extra)
    turns = _Turns()
    instructions = body.get("instructions")
    if instructions:
        turns.system.append(TextPart(instructions))
    for i, item in enumerate(items):
        _item(item, f"input.{i}", turns, extra)
    user = body.get("user")
    return GatewayRequest(
        protocol="responses",
        model=model,
        messages=turns.messages,
        system=turns.system,
        max_tokens=body.get("max_output_tokens"),
        stream=bool(body.get("stream", False)),
        tools=tools,
        tool_choice=parse_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls")),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        thinking=_thinking(body.get("reasoning")),
        response_format=_response_format(body.get("text")),
        user=user if isinstance(user, str) else None,
        extra=extra,
    )
