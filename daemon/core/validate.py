"""Checks shared by the wires' request parsers: bounded integer fields and text UTF-8 can carry.

Owns the limits a client's numbers must respect (``MAX_COUNT``) and the rule that a string
decoded from a nested JSON payload must not hold lone surrogates. Each wire's ``request`` module
calls these and names the field; the messages and ``param`` come out as ``InvalidRequest``.
Does not parse bodies (``jsonfast``) or know any protocol. Pure.
"""

from __future__ import annotations

from .errors import InvalidRequest

# The largest token count (max_tokens, budget_tokens, top_k, …) a request may name: far above any
# model's window, far below what an upstream, SQLite (64-bit) or the estimates would choke on.
MAX_COUNT = 1_000_000_000


def check_count_at_most(value: object, param: str, maximum: int = MAX_COUNT) -> None:
    """Refuse an integer above ``maximum`` (type and lower bound are the caller's checks)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > maximum:
        raise InvalidRequest(f"{param}: must be at most {maximum}", param=param)


def is_unicode_text(text: str) -> bool:
    """True when ``text`` has no lone surrogate (so it encodes as UTF-8)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
