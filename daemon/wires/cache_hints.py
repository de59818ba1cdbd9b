"""Prompt-cache hints: what the executors may add to upstream bodies the client left without any.

``CacheHints`` says what is allowed (config ``cache.prefix_markers``, the session a
``prompt_cache_key`` derives from, whether the conversation tail is marked too). Each wire applies
them its own way (``Wire.add_cache_hints``): Anthropic prefix markers in
``wires.anthropic.cache_hints``, OpenAI's ``prompt_cache_key`` in ``wires.openai_cache_key``.
Shared here: Claude Code's per-turn billing-header line, which must never be part of a cached
prefix (protocols.md §4.9 #16). Pure functions; no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
BILLING_HEADER = "x-anthropic-billing-header"
_BILLING_LINE = re.compile(r"^[ \t]*x-anthropic-billing-header:.*(?:\n|$)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class CacheHints:
    """What the executors may add: prefix markers (config ``cache.prefix_markers``) and the
    session a ``prompt_cache_key`` derives from."""

    prefix_markers: bool = True
    session: str | None = None
    # Also mark the conversation tail (translated requests; see the module docstring).
    rolling: bool = False


def blocks(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def strip_billing_header(text: str) -> str:
    """``text`` without Claude Code's per-turn billing-header line."""
    return _BILLING_LINE.sub("", text)
