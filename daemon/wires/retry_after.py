"""``retry-after`` from an upstream error response: the one parser, used by every wire.

``retry-after-ms`` (preferred, more precise) or ``retry-after`` in seconds; an HTTP-date or a
negative value yields None (the caller's own backoff applies). Header names are matched without
regard to case. Does not decide what to do with the value: the error hierarchy carries it to the
client's renderer (the ``retry-after`` header) and to the provider's circuit breaker (its cooldown).
"""

from __future__ import annotations

from collections.abc import Mapping


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``retry-after-ms`` (preferred, more precise) or ``retry-after`` seconds; None if absent."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = _header(headers, name)
        if value is None:
            continue
        try:
            seconds = float(value.strip()) / scale
        except ValueError:
            continue  # an HTTP-date: leave the backoff to the caller
        if seconds >= 0:
            return seconds
    return None
