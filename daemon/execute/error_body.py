"""Upstream error bodies that are not their wire's JSON error: what the client is told instead.

A proxy's HTML 502 page, a plain-text message or compressed bytes an upstream sent despite
``accept-encoding: identity`` are not an error a client SDK can read. ``is_wire_error`` says
whether a body is the wire's own JSON error (a JSON object with an ``error`` member: Anthropic's
``{"type": "error", "error": …}``, OpenAI's ``{"error": …}``), which is relayed intact;
``describe`` turns a body that is not JSON at all into one short line (status, content type, a
short excerpt) that the wire's mapper (``Wire.upstream_error``) turns into the hierarchy, keeping
the status mapping and ``retry-after``. Does not read responses or render errors: the executors and wires do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from ..core.errors import UpstreamError
from ..wires.base import Wire

EXCERPT_CHARS = 200
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


_NOT_JSON = object()


def _parsed(body: bytes) -> object:
    if body.lstrip()[:1] not in (b"{", b"["):
        return _NOT_JSON
    try:
        # The stdlib parser, as the wires' mappers: it takes what they take (lone surrogates).
        return json.loads(body)
    except (ValueError, RecursionError):
        return _NOT_JSON


def is_wire_error(body: bytes) -> bool:
    """True for a JSON object with an ``error`` member (the wires' error shape)."""
    data = _parsed(body)
    return isinstance(data, dict) and "error" in data


def _printable(text: str) -> bool:
    """Mostly printable text (not compressed or binary bytes that happened to decode)."""
    sample = text[:512]
    odd = sum(1 for ch in sample if not ch.isprintable() and ch not in "\t\n\r")
    return odd * 10 <= len(sample)


def excerpt(body: bytes) -> str:
    """A short, one-line, human-readable excerpt of an error body."""
    if not body.strip():
        return "an empty body"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return f"{len(body)} bytes of binary data"
    if not _printable(text):
        return f"{len(body)} bytes of binary data"
    if "<" in text and ">" in text:  # an HTML page: its title, or its text without the markup
        title = _TITLE.search(body)
        if title is not None and title.group(1).strip():
            text = title.group(1).decode("utf-8", errors="replace")
        else:
            text = _TAG.sub(" ", _SCRIPT.sub(" ", text))
    line = " ".join(text.split())
    return line if len(line) <= EXCERPT_CHARS else line[: EXCERPT_CHARS - 1] + "…"


def describe(status: int, body: bytes, headers: Mapping[str, str], provider: str) -> str:
    """One line saying what the upstream answered, for a body that is not a wire error."""
    kind = headers.get("content-type", "").split(";")[0].strip() or "no content type"
    encoding = headers.get("content-encoding", "").strip()
    if encoding and encoding != "identity":
        kind += f", {encoding}-encoded"
    return f"{provider} returned HTTP {status} with a non-JSON body ({kind}): {excerpt(body)}"


def upstream_error(
    wire: Wire, status: int, body: bytes, headers: Mapping[str, str], provider: str
) -> UpstreamError:
    """The wire's mapping of an error response; a body that is not JSON maps by its status with
    a short description instead of its raw bytes."""
    if _parsed(body) is not _NOT_JSON:
        return wire.upstream_error(status, body, headers, provider)
    text = describe(status, body, headers, provider)
    return wire.upstream_error(status, text.encode("utf-8"), headers, provider)
