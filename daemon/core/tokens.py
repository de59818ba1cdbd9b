"""Local token estimates, used when no upstream can count (documented in the README).

Estimate: one token per 4 characters of the compact JSON of ``system``, ``messages`` and
``tools``, rounded up. Coding-agent prompts are mostly English prose, code and JSON, where this
lands within ~15% of real tokenizers; it is only used for ``count_tokens`` without an Anthropic
upstream and for routing heuristics, never for billing.
"""

from __future__ import annotations

import json
from typing import Any

CHARS_PER_TOKEN = 4


def estimate_text_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def estimate_request_tokens(body: dict[str, Any]) -> int:
    parts = [body.get("system"), body.get("messages"), body.get("tools")]
    size = sum(len(json.dumps(p, ensure_ascii=False, separators=(",", ":"))) for p in parts if p)
    return -(-size // CHARS_PER_TOKEN)
