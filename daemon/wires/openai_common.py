"""Pieces shared by the two OpenAI wires (Chat Completions and Responses), neither wire's own.

Owns tolerant tool-call argument parsing (protocols.md §4.9 #6), the final usage of a stream
(``merge_usage``), the ``created`` timestamp, and the two upstream codecs' shared content rules:
an image or document as a URL or ``data:`` URL (``media_url``) and content that is all text sent
as one string (``text_or_parts``). No I/O.
"""

from __future__ import annotations

import time

from ..core import jsonfast
from ..core.ir import JSON, DocumentPart, ImagePart, Usage


def now() -> int:
    return int(time.time())


def parse_arguments(raw: object) -> JSON | None:
    """Tool-call ``arguments`` → a JSON object; ``""`` → ``{}``; None when it is not one."""
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if not isinstance(raw, str):
        return None
    try:
        value = jsonfast.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def merge_usage(start: Usage, final: Usage | None) -> Usage:
    """Final usage of a stream: ``MessageDelta``'s, with ``MessageStart``'s input if it has none."""
    if final is None:
        return start
    if final.total_input_tokens == 0 and start.total_input_tokens:
        return Usage(
            input_tokens=start.input_tokens,
            output_tokens=final.output_tokens,
            cache_read_tokens=start.cache_read_tokens,
            cache_write_tokens=start.cache_write_tokens,
            reasoning_tokens=final.reasoning_tokens,
            estimated=final.estimated or start.estimated,
        )
    return final


def media_url(part: ImagePart | DocumentPart) -> str | None:
    """The part as a URL: its own, or its bytes as a ``data:`` URL (None: neither)."""
    if part.data is not None:
        return f"data:{part.media_type or 'application/octet-stream'};base64,{part.data}"
    return part.url


def text_or_parts(parts: list[JSON], text_type: str) -> str | list[JSON]:
    """A plain string when every part is a ``text_type`` part (widest provider support), else the
    parts list."""
    if all(p["type"] == text_type for p in parts):
        return "\n\n".join(p["text"] for p in parts)
    return parts
