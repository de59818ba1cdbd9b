"""Which requests the response cache may answer, and the exact-match key they are stored under.

Only read-only, deterministic work is cacheable: a route class in ``CACHEABLE_CLASSES``
(summaries, titles, topic checks, other small classify-like housekeeping) with
``temperature`` exactly 0, no tools offered, no tool calls or results in the history, no
thinking, no server-side conversation state, no file-mutation intent (``MUTATION_WORDS`` on
word boundaries anywhere in the text) and no secrets (``redact`` would change the text).
Everything else returns a reason and is never looked up or stored.

The key is the sha256 of the canonical request: model, system, messages (without
``cache_control``) and the parameters that change an answer; the stream flag, metadata,
user/session ids and prompt-cache hints are left out, so a streaming and a non-streaming client
share an entry. Pure; no I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict
from typing import Any

from ..core.ir import (
    DocumentPart,
    GatewayRequest,
    ImagePart,
    OpaquePart,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from ..storage.redact import redact

CACHEABLE_CLASSES = frozenset({"summary", "background"})
# Classification rules whose requests must reach the upstream (a quota probe tests the quota).
UNCACHEABLE_RULES = frozenset({"quota_probe"})
MUTATION_WORDS = re.compile(
    r"\b(?:writes?|writing|wrote|written|edit|edits|edited|editing|appl(?:y|ies|ied|ying)|"
    r"delet(?:e|es|ed|ing)|rm|patch(?:es|ed|ing)?|remov(?:e|es|ed|ing)|modif(?:y|ies|ied|ying)|"
    r"overwrit(?:e|es|ing|ten)|renam(?:e|es|ed|ing)|mv|truncat(?:e|es|ed|ing))\b",
    re.IGNORECASE,
)
# Client fields that never change the answer (left out of the key).
VOLATILE_FIELDS = frozenset(
    {
        "metadata",
        "user",
        "prompt_cache_key",
        "prompt_cache_retention",
        "client_metadata",
        "store",
        "include",
        "stream",
        "stream_options",
        "service_tier",
        "safety_identifier",
    }
)
# Client fields that mean state outside the request: the same body may deserve another answer.
STATEFUL_FIELDS = frozenset(
    {"previous_response_id", "conversation", "background", "container", "mcp_servers"}
)


def _texts(request: GatewayRequest) -> list[str]:
    texts = [p.text for p in request.system]
    for msg in request.messages:
        for part in msg.parts:
            if isinstance(part, TextPart):
                texts.append(part.text)
            elif isinstance(part, DocumentPart) and part.data and part.media_type == "text/plain":
                texts.append(part.data)
            elif isinstance(part, ReasoningPart):
                texts.append(part.text)
    return texts


def unsafe_reason(request: GatewayRequest, route_class: str | None, rule: str | None = None) -> str | None:
    """Why this request must not be cached, or None when it may be."""
    if route_class not in CACHEABLE_CLASSES:
        return "route_class"
    if rule in UNCACHEABLE_RULES:
        return rule
    if request.temperature is None or request.temperature != 0:
        return "temperature"
    if request.tools or request.tool_choice is not None:
        return "tools"
    parts = [p for msg in request.messages for p in msg.parts]
    if any(isinstance(p, ToolCallPart | ToolResultPart | OpaquePart) for p in parts):
        return "tool_traffic"
    if request.thinking is not None and request.thinking.enabled:
        return "thinking"
    if STATEFUL_FIELDS & request.extra.keys():
        return "server_state"
    for text in _texts(request):
        if MUTATION_WORDS.search(text):
            return "mutation_intent"
        if redact(text) != text:
            return "secrets"
    return None


def _canonical_part(part: Part) -> dict[str, Any]:
    data = asdict(part)
    data.pop("cache_control", None)
    if isinstance(part, ImagePart | DocumentPart) and part.data is not None:
        data["data"] = hashlib.sha256(part.data.encode()).hexdigest()
    return {"kind": type(part).__name__, **data}


def cache_key(request: GatewayRequest) -> str:
    """sha256 of the canonical request (see the module docstring for what is left out)."""
    canonical = {
        "model": request.model,
        "system": [p.text for p in request.system],
        "messages": [[m.role, [_canonical_part(p) for p in m.parts]] for m in request.messages],
        "params": {
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "top_k": request.top_k,
            "stop": request.stop,
            "response_format": request.response_format,
        },
        "extra": {k: v for k, v in request.extra.items() if k not in VOLATILE_FIELDS},
    }
    text = json.dumps(canonical, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def decide(
    request: GatewayRequest, route_class: str | None, rule: str | None = None
) -> tuple[str | None, str]:
    """(key, "eligible") for a cacheable request, else (None, the reason)."""
    reason = unsafe_reason(request, route_class, rule)
    if reason is not None:
        return None, reason
    return cache_key(request), "eligible"
