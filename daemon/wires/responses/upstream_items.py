"""Pieces of the Responses upstream codec shared by the request builder and the two decoders.

Owns how an OpenAI ``reasoning`` item rides in the IR: as a ``ReasoningPart`` (origin
``gateway``) whose text is the item's summary and whose signature is ``gw:oai1:`` + unpadded
base64url of ``{"id", "e"}`` (the item id and its ``encrypted_content``). The ``gw:`` prefix keeps
it from ever reaching Anthropic; an Anthropic client replays it in its thinking block and the
builder turns it back into the ``reasoning`` item OpenAI requires in a tool loop (``store: false``).
Also owns output items → IR parts (message text and refusals, ``function_call``,
``custom_tool_call`` whose ``input`` becomes ``{"input": ...}``), the response status →
IR stop reason, and which models reason. Pure; no I/O. Does not render anything for a client.
"""

from __future__ import annotations

import base64
import binascii
import json

from ...core import jsonfast
from ...core.ir import JSON, ReasoningPart, StopReason
from ..openai_common import parse_arguments
from ..toolids import GATEWAY_SIGNATURE_PREFIX, gateway_signature, generate_tool_id, sanitize_tool_id

SIGNATURE_PREFIX = GATEWAY_SIGNATURE_PREFIX + "oai1:"
# Models without reasoning (no ``reasoning`` / encrypted items, sampling parameters accepted).
_PLAIN_MODELS = ("gpt-4", "gpt-3.5", "chatgpt-4o")


def reasons(model: str) -> bool:
    """True for a reasoning model (GPT-5.x, o-series, codex-…): it takes ``reasoning`` and
    returns encrypted reasoning items; False for the older plain chat models."""
    return not model.lower().startswith(_PLAIN_MODELS)


def wrap_reasoning(item_id: str, encrypted: str | None, text: str) -> str:
    """The IR signature of one reasoning item (a plain ``gw:`` one when it cannot be replayed)."""
    if not item_id or not encrypted:
        return gateway_signature(text)
    raw = json.dumps({"id": item_id, "e": encrypted}, separators=(",", ":"), ensure_ascii=False)
    return SIGNATURE_PREFIX + base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def unwrap_reasoning(signature: str | None) -> tuple[str, str] | None:
    """(item id, encrypted_content) inside one of our signatures; None when it is not one."""
    if not signature or not signature.startswith(SIGNATURE_PREFIX):
        return None
    body = signature[len(SIGNATURE_PREFIX) :]
    try:
        payload = jsonfast.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict):
        return None
    item_id, encrypted = payload.get("id"), payload.get("e")
    if not isinstance(item_id, str) or not item_id or not isinstance(encrypted, str) or not encrypted:
        return None
    return item_id, encrypted


def summary_text(item: JSON) -> str:
    """A reasoning item's summary (or raw reasoning content) as one text."""
    texts: list[str] = []
    for key in ("summary", "content"):
        parts = item.get(key)
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]:
                texts.append(part["text"])
        if texts:
            break
    return "\n\n".join(texts)


def reasoning_part(item: JSON) -> ReasoningPart:
    text = summary_text(item)
    raw_id, encrypted = item.get("id"), item.get("encrypted_content")
    signature = wrap_reasoning(
        raw_id if isinstance(raw_id, str) else "", encrypted if isinstance(encrypted, str) else None, text
    )
    return ReasoningPart(text=text, signature=signature, origin="gateway")


def message_text(item: JSON) -> tuple[str, bool]:
    """(text, refused) of a ``message`` output item (a refusal's text is shown as text)."""
    texts: list[str] = []
    refused = False
    content = item.get("content")
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
            refused = True
            texts.append(part["refusal"])
        elif isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "".join(texts), refused


def call_arguments(item: JSON, streamed: str = "") -> JSON:
    """A tool-call item's IR arguments: ``function_call`` JSON, or a custom tool's ``{"input"}``."""
    if item.get("type") == "custom_tool_call":
        text = item.get("input")
        return {"input": text if isinstance(text, str) and text else streamed}
    raw = item.get("arguments")
    return parse_arguments(raw if isinstance(raw, str | dict) and raw else streamed) or {}


def call_id(item: JSON, seed: str, index: int, seen: set[str]) -> str:
    """The IR id of a tool call (its ``call_id``, sanitised; minted when missing or repeated)."""
    raw = item.get("call_id") or item.get("id")
    found = sanitize_tool_id(raw) if isinstance(raw, str) and raw else ""
    if not found or found in seen:
        found = generate_tool_id(seed, index)
    seen.add(found)
    return found


def stop_reason(status: object, incomplete: object, *, refused: bool, has_tool_calls: bool) -> StopReason:
    """The Response's ``status`` / ``incomplete_details`` → IR (tool calls decide ``tool_use``)."""
    if status == "incomplete":
        reason = incomplete.get("reason") if isinstance(incomplete, dict) else None
        if reason == "content_filter":
            return "refusal"
        if not has_tool_calls:
            return "max_tokens"
    if has_tool_calls:
        return "tool_use"
    return "refusal" if refused else "end_turn"
