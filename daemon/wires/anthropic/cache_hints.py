"""Anthropic prompt-cache markers added to upstream bodies the client left without any.

When the body carries no ``cache_control`` anywhere (top level, system, tools, messages,
tool-result contents), mark the stable prefixes — the last tool definition, the last non-empty
system block (never Claude Code's per-turn billing header), the repo-instructions block
(CLAUDE.md / AGENTS.md context in the first user turn) — at most ``MAX_BREAKPOINTS``, never on
empty text, never on thinking blocks. Translated requests (``rolling=True``) also get the
conversation tail marked, so a translated tool loop re-reads its history from cache; pass-through
bodies get only the stable prefixes. A body with any marker of the client's is left untouched.
Pure functions over JSON bodies; each returns whether it changed the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ...core.providers import ProviderSpec
from ..cache_hints import BILLING_HEADER, JSON, CacheHints
from ..cache_hints import blocks as _blocks

MAX_BREAKPOINTS = 4
# Claude Code's CLAUDE.md context, Codex's AGENTS.md instructions.
_REPO_INSTRUCTIONS = re.compile(
    r"#\s*claudeMd\b|Contents of \S*CLAUDE\.md|<user_instructions>|AGENTS\.md instructions for|"
    r"<INSTRUCTIONS>",
    re.IGNORECASE,
)
_TAIL_TYPES = frozenset({"text", "image", "document", "tool_use", "tool_result"})


def _ephemeral() -> JSON:
    return {"type": "ephemeral"}


def has_cache_control(body: JSON) -> bool:
    """True when the client placed a marker anywhere a marker can go."""
    return "cache_control" in body or any(
        isinstance(b, dict) and "cache_control" in b for b in _markable(body)
    )


def _markable(body: JSON) -> Iterator[Any]:
    """Every block a marker may sit on, system and tools first (where clients put theirs)."""
    yield from _blocks(body.get("system"))
    yield from _blocks(body.get("tools"))
    for msg in _blocks(body.get("messages")):
        if isinstance(msg, dict):
            for block in _blocks(msg.get("content")):
                yield block
                if isinstance(block, dict):
                    yield from _blocks(block.get("content"))


def _marked_text(text: str) -> list[JSON]:
    return [{"type": "text", "text": text, "cache_control": _ephemeral()}]


def _is_text(block: object) -> bool:
    return isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)


def _mark_system(body: JSON) -> str | None:
    system = body.get("system")
    if isinstance(system, str):
        if not system.strip():
            return None
        body["system"] = _marked_text(system)
        return "system[0]"
    blocks = _blocks(system)
    for i in range(len(blocks) - 1, -1, -1):
        block = blocks[i]
        text = block["text"] if _is_text(block) else ""
        if text.strip() and not text.lstrip().startswith(BILLING_HEADER):
            block["cache_control"] = _ephemeral()
            return f"system[{i}]"
    return None


def _mark_repo_instructions(body: JSON) -> str | None:
    """The CLAUDE.md / AGENTS.md block of the first user turn (stable for the session)."""
    messages = _blocks(body.get("messages"))
    first = messages[0] if messages else None
    if not isinstance(first, dict) or first.get("role") != "user":
        return None
    content = first.get("content")
    if isinstance(content, str):
        if content.strip() and _REPO_INSTRUCTIONS.search(content):
            first["content"] = _marked_text(content)
            return "messages[0].content[0]"
        return None
    for i, block in enumerate(_blocks(content)):
        if _is_text(block) and block["text"].strip() and _REPO_INSTRUCTIONS.search(block["text"]):
            block["cache_control"] = _ephemeral()
            return f"messages[0].content[{i}]"
    return None


def _eligible_tail(block: object) -> bool:
    if not isinstance(block, dict) or block.get("type") not in _TAIL_TYPES:
        return False
    return block.get("type") != "text" or bool(str(block.get("text", "")).strip())


def _mark_tail(body: JSON) -> str | None:
    """The last markable block of the last turn (a rolling breakpoint; Claude Code marks its
    mid-conversation ``system`` messages the same way)."""
    messages = _blocks(body.get("messages"))
    for m in range(len(messages) - 1, -1, -1):
        msg = messages[m]
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant", "system"):
            continue
        content = msg.get("content")
        if isinstance(content, str):
            if not content.strip():
                return None
            msg["content"] = _marked_text(content)
            return f"messages[{m}].content[0]"
        blocks = _blocks(content)
        for i in range(len(blocks) - 1, -1, -1):
            block = blocks[i]
            if isinstance(block, dict) and "cache_control" in block:
                return None  # already marked (the repo-instructions block)
            if _eligible_tail(block):
                block["cache_control"] = _ephemeral()
                return f"messages[{m}].content[{i}]"
        return None
    return None


def mark_prefix(body: JSON, *, rolling: bool = False) -> list[str]:
    """Add cache breakpoints to an Anthropic body without any; return where (JSON paths)."""
    if has_cache_control(body):
        return []
    marked: list[str] = []
    tools = _blocks(body.get("tools"))
    if tools and isinstance(tools[-1], dict):
        tools[-1]["cache_control"] = _ephemeral()
        marked.append(f"tools[{len(tools) - 1}]")
    steps = (
        (_mark_system, _mark_repo_instructions, _mark_tail)
        if rolling
        else (_mark_system, _mark_repo_instructions)
    )
    for step in steps:
        if len(marked) >= MAX_BREAKPOINTS:
            break
        path = step(body)
        if path is not None:
            marked.append(path)
    return marked


def add_cache_hints(body: JSON, spec: ProviderSpec, hints: CacheHints) -> bool:
    """The Anthropic wire's hints: prefix markers (and the tail when ``hints.rolling``)."""
    return bool(mark_prefix(body, rolling=hints.rolling))
