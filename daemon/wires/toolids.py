"""Ids and markers the gateway mints, shared by every translator.

Tool-call ids: sanitising and generating them. Reasoning: the ``gw:`` signature put on thinking
blocks synthesised from non-Anthropic reasoning, so they are never forwarded to Anthropic.

Anthropic requires tool ids matching ``^[a-zA-Z0-9_-]+$`` (≤64 characters); compat providers
emit ids such as ``functions.Bash:0`` or none at all (protocols.md §4.9 #3, #4). The mapping is
deterministic and idempotent, so applying it to a call id and to its result id keeps them paired.
Pure; imports nothing of the project. Does not decide *where* ids are sanitised — callers do.
"""

from __future__ import annotations

import hashlib
import re

GATEWAY_SIGNATURE_PREFIX = "gw:"
MAX_TOOL_ID_LEN = 64
_VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_INVALID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
_SUFFIX_LEN = 8


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def sanitize_tool_id(raw: str) -> str:
    """Return ``raw`` if it is a valid tool id, else a valid id derived from it.

    A changed id is the cleaned text plus ``_`` and a short hash of the original, so two
    different raw ids that clean to the same text stay distinct. ``sanitize(sanitize(x))``
    equals ``sanitize(x)``.
    """
    if _VALID.match(raw):
        return raw
    cleaned = _INVALID_CHARS.sub("_", raw)[: MAX_TOOL_ID_LEN - _SUFFIX_LEN - 1]
    return f"{cleaned}_{_digest(raw, _SUFFIX_LEN)}"


def generate_tool_id(seed: str, index: int) -> str:
    """A deterministic ``call_…`` id for a tool call that arrived without a usable one."""
    return f"call_{_digest(f'{seed}:{index}', 24)}"


def gateway_signature(text: str) -> str:
    """The ``gw:``-marked signature for reasoning the gateway did not get from Anthropic."""
    return GATEWAY_SIGNATURE_PREFIX + _digest(text, 16)
