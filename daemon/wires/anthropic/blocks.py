"""Anthropic content blocks ↔ IR parts, shared by the request and response translators.

Owns the per-block mapping of protocols.md §1.3/§1.5 in both directions and the rule that a
block we cannot represent neutrally rides along as ``OpaquePart("anthropic", block)``. Does not
validate whole requests (``request``) or build whole messages/responses.
"""

from __future__ import annotations

from collections.abc import Callable

from ...core.errors import InvalidRequest
from ...core.ir import (
    JSON,
    DocumentPart,
    ImagePart,
    OpaquePart,
    Part,
    ReasoningOrigin,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from ..toolids import GATEWAY_SIGNATURE_PREFIX


def fail(message: str, param: str | None = None) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def _opt_dict(block: JSON, key: str, path: str) -> JSON | None:
    value = block.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise fail(f"{path}.{key}: must be an object", f"{path}.{key}")
    return value


def _req_str(block: JSON, key: str, path: str) -> str:
    value = block.get(key)
    if not isinstance(value, str):
        raise fail(f"{path}.{key}: field required (string)", f"{path}.{key}")
    return value


def _parse_source(block: JSON, path: str) -> tuple[str | None, str | None, str | None] | None:
    """(media_type, data, url) of an image/document ``source``; None for an unmapped source type."""
    source = _opt_dict(block, "source", path)
    if source is None:
        raise fail(f"{path}.source: field required", f"{path}.source")
    kind = source.get("type")
    if kind == "base64" or kind == "text":
        return (
            _req_str(source, "media_type", f"{path}.source") if kind == "base64" else "text/plain",
            _req_str(source, "data", f"{path}.source"),
            None,
        )
    if kind == "url":
        return None, None, _req_str(source, "url", f"{path}.source")
    return None


def _tool_result_content(value: object, path: str) -> list[TextPart | ImagePart | DocumentPart]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [TextPart(value)]
    if not isinstance(value, list):
        raise fail(f"{path}.content: must be a string or a list of blocks", f"{path}.content")
    out: list[TextPart | ImagePart | DocumentPart] = []
    for i, item in enumerate(value):
        part = parse_block(item, f"{path}.content.{i}")
        if isinstance(part, TextPart | ImagePart | DocumentPart):
            out.append(part)
        elif isinstance(part, OpaquePart):
            # search_result and friends: keep their text, which is all a tool message can carry.
            inner = part.data.get("content")
            blocks = inner if isinstance(inner, list) else []
            texts = [b.get("text", "") for b in blocks if isinstance(b, dict)]
            title = part.data.get("title")
            joined = "\n".join(t for t in [title, *texts] if isinstance(t, str) and t)
            if joined:
                out.append(TextPart(joined))
        else:
            raise fail(f"{path}.content.{i}: block type not allowed in tool_result", f"{path}.content.{i}")
    return out


def fast_block(block: JSON) -> Part | None:
    """The common well-formed blocks of an agent turn (text, tool_use, a tool_result with
    string content), checked and built directly; None sends the block down the general path,
    which also names the offending field when one is malformed."""
    kind = block.get("type")
    cache = block.get("cache_control")
    if cache is not None and type(cache) is not dict:
        return None
    if kind == "text":
        text = block.get("text")
        return TextPart(text, cache_control=cache) if type(text) is str else None
    if kind == "tool_use":
        call_id, name, arguments = block.get("id"), block.get("name"), block.get("input", {})
        if type(call_id) is str and type(name) is str and type(arguments) is dict:
            return ToolCallPart(id=call_id, name=name, arguments=arguments, cache_control=cache)
        return None
    if kind == "tool_result":
        call_id, content, is_error = block.get("tool_use_id"), block.get("content"), block.get("is_error")
        if type(call_id) is str and type(content) is str and (is_error is None or type(is_error) is bool):
            parts: list[TextPart | ImagePart | DocumentPart] = [TextPart(content)] if content else []
            error = bool(is_error)
            return ToolResultPart(call_id=call_id, content=parts, is_error=error, cache_control=cache)
    return None


def parse_block(block: object, path: str) -> Part:
    """One Anthropic content block → one IR part. ``path`` names it in error messages."""
    if type(block) is dict:
        part = fast_block(block)
        if part is not None:
            return part
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise fail(f"{path}: content block must be an object with a string 'type'", path)
    kind: str = block["type"]
    cache = _opt_dict(block, "cache_control", path)
    if kind == "text":
        return TextPart(_req_str(block, "text", path), cache_control=cache)
    if kind in ("image", "document"):
        source = _parse_source(block, path)
        if source is None:
            return OpaquePart("anthropic", block)
        media_type, data, url = source
        if kind == "image":
            return ImagePart(media_type=media_type, data=data, url=url, cache_control=cache)
        title = block.get("title")
        return DocumentPart(
            media_type=media_type,
            data=data,
            url=url,
            title=title if isinstance(title, str) else None,
            cache_control=cache,
        )
    if kind == "tool_use":
        arguments = block.get("input", {})
        if not isinstance(arguments, dict):
            raise fail(f"{path}.input: must be an object", f"{path}.input")
        return ToolCallPart(
            id=_req_str(block, "id", path),
            name=_req_str(block, "name", path),
            arguments=arguments,
            cache_control=cache,
        )
    if kind == "tool_result":
        is_error = block.get("is_error", False)
        if not isinstance(is_error, bool | None):
            raise fail(f"{path}.is_error: must be a boolean", f"{path}.is_error")
        return ToolResultPart(
            call_id=_req_str(block, "tool_use_id", path),
            content=_tool_result_content(block.get("content"), path),
            is_error=bool(is_error),
            cache_control=cache,
        )
    if kind == "thinking":
        signature = block.get("signature")
        if signature is not None and not isinstance(signature, str):
            raise fail(f"{path}.signature: must be a string", f"{path}.signature")
        gateway = (signature or "").startswith(GATEWAY_SIGNATURE_PREFIX)
        origin: ReasoningOrigin = "gateway" if gateway else "anthropic"
        return ReasoningPart(text=_req_str(block, "thinking", path), signature=signature, origin=origin)
    if kind == "redacted_thinking":
        return ReasoningPart(redacted=_req_str(block, "data", path), origin="anthropic")
    return OpaquePart("anthropic", block)


def _with_cache(out: JSON, cache: JSON | None) -> JSON:
    if cache is not None:
        out["cache_control"] = cache
    return out


def _source(media_type: str | None, data: str | None, url: str | None) -> JSON | None:
    if data is not None:
        if media_type == "text/plain":
            return {"type": "text", "media_type": "text/plain", "data": data}
        return {"type": "base64", "media_type": media_type or "application/octet-stream", "data": data}
    if url is not None:
        return {"type": "url", "url": url}
    return None


def _identity(text: str) -> str:
    return text


def is_blank(text: str) -> bool:
    return not text.strip()


def render_part(part: Part, sanitize_id: Callable[[str], str] | None = None) -> JSON | None:
    """One IR part → an Anthropic block, or None when Anthropic must not receive it.

    Dropped: empty/whitespace-only text, gateway-origin or foreign reasoning, reasoning without
    a signature, opaque blocks of other protocols. ``sanitize_id`` (str → str) maps tool ids.
    """
    fix = sanitize_id or _identity
    if isinstance(part, TextPart):
        return (
            None
            if is_blank(part.text)
            else _with_cache({"type": "text", "text": part.text}, part.cache_control)
        )
    if isinstance(part, ImagePart | DocumentPart):
        source = _source(part.media_type, part.data, part.url)
        if source is None:
            return None
        kind = "image" if isinstance(part, ImagePart) else "document"
        out: JSON = {"type": kind, "source": source}
        if isinstance(part, DocumentPart) and part.title is not None:
            out["title"] = part.title
        return _with_cache(out, part.cache_control)
    if isinstance(part, ToolCallPart):
        block = {"type": "tool_use", "id": fix(part.id), "name": part.name, "input": part.arguments}
        return _with_cache(block, part.cache_control)
    if isinstance(part, ToolResultPart):
        return _render_tool_result(part, fix)
    if isinstance(part, ReasoningPart):
        if part.origin != "anthropic":
            return None
        if part.redacted is not None:
            return {"type": "redacted_thinking", "data": part.redacted}
        if not part.signature or part.signature.startswith(GATEWAY_SIGNATURE_PREFIX):
            return None
        return {"type": "thinking", "thinking": part.text, "signature": part.signature}
    if part.protocol == "anthropic":
        return part.data
    return None


def _render_tool_result(part: ToolResultPart, fix: Callable[[str], str]) -> JSON:
    out: JSON = {"type": "tool_result", "tool_use_id": fix(part.call_id)}
    blocks = [b for b in (render_part(p) for p in part.content) if b is not None]
    only = part.content[0] if len(part.content) == 1 else None
    if isinstance(only, TextPart) and only.cache_control is None and blocks:
        out["content"] = only.text
    elif blocks:
        out["content"] = blocks
    if part.is_error:
        out["is_error"] = True
    return _with_cache(out, part.cache_control)
