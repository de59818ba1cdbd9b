"""Anthropic thinking blocks packed into an opaque string, so Responses clients can replay them.

A Responses client (Codex) served by Claude receives each thinking block as a ``reasoning``
output item whose ``encrypted_content`` is ``encode_thinking(...)``; it sends the item back on
the next turn and ``decode_thinking`` restores the block with its signature intact, which
Anthropic requires in tool loops with thinking on (protocols.md §4.6(c), §4.8).

The format is ``sgw1:`` + unpadded base64url of a compact JSON object ``{"t", "s", "r"}``
(text, signature, redacted data). It is not encryption: the signature inside is Anthropic's own
proof, checked by Anthropic. Anything without the prefix, or malformed, is not ours (None).
Pure; owns no other reasoning rules (which upstream may receive reasoning is the renderers' job).
"""

from __future__ import annotations

import base64
import binascii
import json

from ..core import jsonfast
from ..core.ir import ReasoningPart

PREFIX = "sgw1:"


def encode_thinking(text: str, signature: str | None, redacted: str | None) -> str:
    """An opaque ``encrypted_content`` value carrying one Anthropic thinking block."""
    payload: dict[str, str] = {"t": text}
    if signature is not None:
        payload["s"] = signature
    if redacted is not None:
        payload["r"] = redacted
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def is_ours(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def decode_thinking(value: object) -> ReasoningPart | None:
    """The thinking block inside one of our strings; None when ``value`` is not ours or is broken."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return None
    body = value[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        payload = jsonfast.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict):
        return None
    text, signature, redacted = payload.get("t", ""), payload.get("s"), payload.get("r")
    if not isinstance(text, str) or not isinstance(signature, str | None):
        return None
    if not isinstance(redacted, str | None) or (signature is None and redacted is None):
        return None
    return ReasoningPart(text=text, signature=signature, redacted=redacted, origin="anthropic")
