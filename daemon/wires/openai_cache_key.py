"""OpenAI's ``prompt_cache_key``, set on upstream bodies (Chat and Responses) that have none.

Only for providers whose quirks accept it. The key derives from the session id, else from the
stable prefix (system/developer texts and tool names) with Claude Code's per-turn
``x-anthropic-billing-header`` line removed (protocols.md §4.9 #16). Pure functions.
"""

from __future__ import annotations

import hashlib
import json

from ..core.providers import ProviderSpec
from .cache_hints import JSON, CacheHints, strip_billing_header
from .cache_hints import blocks as _blocks

_KEY_PREFIX = "sgw-"


def _texts(content: object) -> list[str]:
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    for part in _blocks(content):
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            out.append(part["text"])
    return out


def _stable_prefix(body: JSON) -> str:
    """System/developer texts and tool names of a Chat or Responses body, billing header removed."""
    texts = _texts(body.get("instructions"))
    for item in _blocks(body.get("messages")) + _blocks(body.get("input")):
        if isinstance(item, dict) and item.get("role") in ("system", "developer"):
            texts += _texts(item.get("content"))
    names = []
    for tool in _blocks(body.get("tools")):
        if isinstance(tool, dict):
            fn = tool.get("function")
            names.append(str((fn if isinstance(fn, dict) else tool).get("name") or tool.get("type")))
    stable = [t for t in (strip_billing_header(t).strip() for t in texts) if t]
    return json.dumps({"system": stable, "tools": names}, ensure_ascii=False) if stable or names else ""


def prompt_cache_key(body: JSON, session: str | None) -> str | None:
    """The key for a body: from the session when known, else from its stable prefix."""
    if session:
        return _KEY_PREFIX + hashlib.sha256(session.encode()).hexdigest()[:40]
    prefix = _stable_prefix(body)
    if not prefix:
        return None
    return _KEY_PREFIX + "p-" + hashlib.sha256(prefix.encode()).hexdigest()[:38]


def set_prompt_cache_key(body: JSON, session: str | None) -> bool:
    if "prompt_cache_key" in body:
        return False
    key = prompt_cache_key(body, session)
    if key is None:
        return False
    body["prompt_cache_key"] = key
    return True


def add_cache_hints(body: JSON, spec: ProviderSpec, hints: CacheHints) -> bool:
    """The OpenAI wires' hint: a ``prompt_cache_key`` where the provider accepts one."""
    return spec.quirks.prompt_cache_key and set_prompt_cache_key(body, hints.session)
