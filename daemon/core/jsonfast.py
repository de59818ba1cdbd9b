"""Fast JSON for the request path (orjson), with the standard library as the fallback.

orjson parses and serialises 3-10x faster than ``json``, which matters on 200 KB agent
requests and per-delta stream frames. Output is compact UTF-8 (like ``ensure_ascii=False``
with ``(",", ":")`` separators). Values orjson refuses (integers beyond 64 bits, odd types)
fall back to ``json`` so nothing a client sends is rejected for speed's sake.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises ``json.JSONDecodeError`` (orjson's error is a subclass) on bad input."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)  # the standard library's message and position, or its leniency


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON bytes."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def dumps_str(obj: Any) -> str:
    return dumps(obj).decode()
