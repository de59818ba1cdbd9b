"""Cheap facts about a request that routing decisions rest on.

Owns: the token estimate (chars/4 over system, messages and tool schemas, summed from string
lengths instead of serialising the request), the "latest turn" (the messages after the last
assistant message), and whether a request carries tools, tool results, images or thinking.
Does not decide anything: ``classify`` and ``policy`` do. Pure; the only state is a bounded
cache of per-tool schema sizes (tool lists repeat verbatim on every turn of a session).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from ..core.ir import (
    DocumentPart,
    GatewayRequest,
    ImagePart,
    Message,
    OpaquePart,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from ..core.tokens import CHARS_PER_TOKEN

# An image costs at most ~1 600 tokens on Anthropic (1.15 megapixels / 750); count the ceiling.
IMAGE_TOKENS = 1_600
_IMAGE_CHARS = IMAGE_TOKENS * CHARS_PER_TOKEN
# Opaque blocks (server-tool results, …) are counted at their serialised size up to this cap.
_OPAQUE_CAP = 20_000
_SCHEMA_CACHE_MAX = 4_096


class _SchemaSizes:
    """Serialised size of tool schemas keyed by (name, kind, description length, key count)."""

    def __init__(self) -> None:
        self._sizes: dict[tuple[str, str, int, int], int] = {}

    def size(self, tool: ToolSpec) -> int:
        key = (tool.name, tool.kind, len(tool.description), len(tool.parameters))
        hit = self._sizes.get(key)
        if hit is not None:
            return hit
        if tool.raw is not None:
            size = len(json.dumps(tool.raw, ensure_ascii=False, separators=(",", ":")))
        else:
            params = json.dumps(tool.parameters, ensure_ascii=False, separators=(",", ":"))
            size = 40 + len(tool.name) + len(tool.description) + len(params)
        if len(self._sizes) >= _SCHEMA_CACHE_MAX:
            self._sizes.clear()
        self._sizes[key] = size
        return size


_SCHEMAS = _SchemaSizes()


def _json_size(value: object) -> int:
    """Compact JSON size (UTF-8 bytes; orjson, ~10x faster than json on tool arguments)."""
    try:
        return len(orjson.dumps(value))
    except TypeError:  # what orjson refuses (non-string keys, huge ints): the slow way
        return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))


def part_chars(part: Part) -> int:
    """Approximate serialised size of one content part, in characters."""
    if isinstance(part, TextPart):
        return len(part.text)
    if isinstance(part, ToolResultPart):
        return 32 + sum(part_chars(p) for p in part.content)
    if isinstance(part, ToolCallPart):
        args = part.arguments
        return 32 + len(part.name) + (_json_size(args) if args else 2)
    if isinstance(part, ReasoningPart):
        return len(part.text) + len(part.redacted or "")
    if isinstance(part, ImagePart):
        return _IMAGE_CHARS
    if isinstance(part, DocumentPart):
        # base64 inflates 4/3; plain-text documents are counted as they are.
        data = part.data or ""
        return len(data) * 3 // 4 if part.media_type == "application/pdf" else len(data)
    if isinstance(part, OpaquePart):
        return min(_OPAQUE_CAP, len(json.dumps(part.data, separators=(",", ":"), default=str)))
    return 0


@dataclass(frozen=True, slots=True)
class HistoryFacts:
    """What one walk over the whole request finds (``history_facts``)."""

    chars: int  # approximate serialised size: system, every message part, every tool schema
    tool_traffic: bool  # a tool call or tool result anywhere in the messages
    images: bool  # an image anywhere, tool results included
    # The client's prompt-cache breakpoints: (block position, estimated tokens through that
    # block), blocks counted in cache order — tools, system blocks, message content blocks.
    marks: tuple[tuple[int, int], ...] = ()
    # Estimated tokens through the last breakpoint in the tools and system (the stable prefix a
    # returning request still finds when the look-back misses); 0 without one.
    stable_tokens: int = 0

    @property
    def est_tokens(self) -> int:
        return -(-self.chars // CHARS_PER_TOKEN)


def _tokens(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


def history_facts(req: GatewayRequest) -> HistoryFacts:
    """Size, tool traffic, images and cache breakpoints in one pass over every part (the
    classifier needs all of them).

    The same sums as ``part_chars``; text parts, the bulk of any history, are counted inline.
    """
    chars = 0
    marks: list[tuple[int, int]] = []
    position = 0
    for tool in req.tools:
        chars += _SCHEMAS.size(tool)
        raw = tool.raw
        if raw is not None and type(raw) is dict and raw.get("cache_control") is not None:
            marks.append((position, _tokens(chars)))
        position += 1
    for text in req.system:
        chars += len(text.text)
        if text.cache_control is not None:
            marks.append((position, _tokens(chars)))
        position += 1
    stable = marks[-1][1] if marks else 0
    traffic = images = False
    for message in req.messages:
        chars += 8
        for part in message.parts:
            if type(part) is TextPart:
                chars += len(part.text)
                marked = part.cache_control is not None
            elif type(part) is ToolResultPart:
                traffic = True
                chars += 32
                for inner in part.content:
                    if type(inner) is TextPart:
                        chars += len(inner.text)
                    else:
                        images = images or isinstance(inner, ImagePart)
                        chars += part_chars(inner)
                marked = part.cache_control is not None
            elif type(part) is ToolCallPart:
                traffic = True
                args = part.arguments
                chars += 32 + len(part.name) + (_json_size(args) if args else 2)
                marked = part.cache_control is not None
            else:
                images = images or isinstance(part, ImagePart)
                chars += part_chars(part)
                marked = getattr(part, "cache_control", None) is not None
            if marked:
                marks.append((position, _tokens(chars)))
            position += 1
    return HistoryFacts(chars, traffic, images, tuple(marks), stable)


def estimate_tokens(req: GatewayRequest) -> int:
    """chars/4 over system text, every message part and every tool schema (rounded up)."""
    return history_facts(req).est_tokens


def latest_turn(messages: Sequence[Message]) -> Sequence[Message]:
    """The messages after the last assistant message (the whole list when there is none)."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "assistant":
            return messages[i + 1 :]
    return messages


def last_user_message(messages: Sequence[Message]) -> Message | None:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user":
            return messages[i]
    return None


def has_tool_result(message: Message | None) -> bool:
    return message is not None and any(isinstance(p, ToolResultPart) for p in message.parts)


def carries_tools(req: GatewayRequest) -> bool:
    """Tools offered, or any tool call / tool result anywhere in the history.

    A history with tool traffic needs a target that speaks tool messages faithfully even when
    the current turn offers no tools.
    """
    if req.tools:
        return True
    return any(isinstance(p, ToolCallPart | ToolResultPart) for m in req.messages for p in m.parts)


def has_images(req: GatewayRequest) -> bool:
    for message in req.messages:
        for part in message.parts:
            if isinstance(part, ImagePart):
                return True
            if isinstance(part, ToolResultPart) and any(isinstance(p, ImagePart) for p in part.content):
                return True
    return False


def wants_thinking(req: GatewayRequest) -> bool:
    return req.thinking is not None and req.thinking.enabled


def text_of(message: Message) -> str:
    """The text parts of one message joined by newlines (tool results excluded)."""
    texts = [p.text for p in message.parts if isinstance(p, TextPart)]
    return texts[0] if len(texts) == 1 else "\n".join(texts)
