"""Fast, strict JSON for the request path (orjson): RFC 8259 text only, with a nesting limit.

orjson parses and serialises 3-10x faster than ``json``, which matters on 200 KB agent
requests and per-delta stream frames. Output is compact UTF-8 (like ``ensure_ascii=False``
with ``(",", ":")`` separators).

``loads`` accepts only what the rest of the gateway can carry and serialise again, and fails
with ``ValueError`` subclasses only (never ``RecursionError``): ``json.JSONDecodeError`` for
malformed JSON, ``NaN``/``Infinity``, numbers beyond a double's range, lone surrogates
(``"\\ud800"``) and values nested deeper than ``MAX_DEPTH``; ``UnicodeDecodeError`` for bytes
that are not UTF-8. The depth limit is enforced inside the one orjson parse (the text is parsed
wrapped in ``1024 - MAX_DEPTH`` (128) extra arrays, so orjson's own limit of 1024 trips at
``MAX_DEPTH``): no second walk over the value. Does not know about requests or protocols.
"""

from __future__ import annotations

import json
from functools import reduce
from operator import getitem
from typing import Any

import orjson

# Deepest nesting ``loads`` accepts: below the interpreter's recursion limit (1000) with room for
# the request path's own frames, so the standard ``json`` encoder (which takes one frame per
# level) can serialise anything accepted here. 128 wrapper levels cost ~20 us per large body.
MAX_DEPTH = 896


def _nests(depth: int) -> bool:
    try:
        orjson.loads("[" * depth + "]" * depth)
    except orjson.JSONDecodeError:
        return False
    return True


def _orjson_depth_limit(ceiling: int = 1 << 14) -> int | None:
    """orjson's own nesting limit (1024 today), found once; None when there is none below ``ceiling``."""
    if _nests(1024) and not _nests(1025):
        return 1024
    if _nests(ceiling):
        return None
    low, high = 0, ceiling  # low nests, high does not
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if _nests(mid) else (low, mid)
    return low


_LIMIT = _orjson_depth_limit()
_WRAP = 0 if _LIMIT is None else max(0, _LIMIT - MAX_DEPTH)
_DEPTH = MAX_DEPTH if _LIMIT is None else min(MAX_DEPTH, _LIMIT)
_OPEN, _CLOSE = "[" * _WRAP, "]" * _WRAP
_OPEN_B, _CLOSE_B = _OPEN.encode(), _CLOSE.encode()
_UNWRAP = (0,) * _WRAP
# A text this short cannot nest deeper than the limit (every level takes two characters).
_SHALLOW = 2 * _DEPTH + 1


def _too_deep() -> json.JSONDecodeError:
    return json.JSONDecodeError(f"values nested deeper than {_DEPTH} levels", "", 0)


def _deeper_than(value: Any, limit: int) -> bool:
    """Walk ``value`` (only when orjson has no nesting limit of its own to lean on)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def _parse_plain(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        if isinstance(data, bytes):
            data.decode()  # not UTF-8 (or UTF-8-encoded surrogates): UnicodeDecodeError says so
        raise


def loads(data: bytes | str) -> Any:
    """Parse strict JSON nested at most ``MAX_DEPTH`` deep; raises ``json.JSONDecodeError``
    (orjson's error is a subclass) or ``UnicodeDecodeError`` on anything else."""
    if len(data) <= _SHALLOW:
        return _parse_plain(data)
    if _LIMIT is None:
        value = _parse_plain(data)
        if _deeper_than(value, _DEPTH):
            raise _too_deep()
        return value
    try:
        if isinstance(data, bytes):
            wrapped = orjson.loads(b"".join((_OPEN_B, data, _CLOSE_B)))
        else:
            wrapped = orjson.loads("".join((_OPEN, data, _CLOSE)))
    except orjson.JSONDecodeError:
        _parse_plain(data)  # malformed anyway: report that, at its own position
        raise _too_deep() from None
    return reduce(getitem, _UNWRAP, wrapped)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON bytes."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def dumps_str(obj: Any) -> str:
    return dumps(obj).decode()
