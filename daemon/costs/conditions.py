"""Price conditions: what a request's headers say about how it is billed.

A price tier may apply only under a condition (``"requires"`` in ``pricing.json`` and the
config's ``prices``). The one condition known today: the request's ``anthropic-beta`` header
names the 1M-context beta (``context-1m-2025-08-07``, any ``context-1m-*``), under which
Sonnet 4.5 bills a request above 200k input tokens at the long-context rates. Owns the condition
names and reading them from headers; does not price anything (``prices``). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

CONTEXT_1M = "anthropic-beta:context-1m"
KNOWN_CONDITIONS: frozenset[str] = frozenset({CONTEXT_1M})
NONE: frozenset[str] = frozenset()
_ONLY_1M = frozenset({CONTEXT_1M})


def price_conditions(headers: Mapping[str, str]) -> frozenset[str]:
    """The price conditions of a request from its headers (names lower-cased, as ``header_map``)."""
    beta = headers.get("anthropic-beta")
    if not beta or "context-1m" not in beta.lower():
        return NONE
    for token in beta.lower().split(","):
        if token.strip().startswith("context-1m-"):
            return _ONLY_1M
    return NONE
