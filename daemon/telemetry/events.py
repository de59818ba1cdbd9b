"""The telemetry event: one ``GatewayRequestEvent`` per request the gateway answers.

Owns the event's fields and their column mapping (``to_row``/``COLUMNS``). Does not store
(``store``/``writer``) or query (``queries``). Pure.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from operator import attrgetter
from typing import Any, Literal

import orjson

from ..core.context import ClientKind, FallbackAttempt
from ..core.ir import Usage

__all__ = [
    "ClientKind",
    "EventStatus",
    "FallbackAttempt",
    "GatewayRequestEvent",
    "cache_status",
    "new_event_id",
]

# "refused": governance refused the request (a limit, budget or policy); nothing went upstream.
EventStatus = Literal["ok", "error", "client_closed", "refused"]


def new_event_id() -> str:
    """Time-ordered unique id: 12 hex digits of milliseconds + 20 random hex digits."""
    return f"{int(time.time() * 1000):012x}{uuid.uuid4().hex[:20]}"


@dataclass(slots=True, kw_only=True)
class GatewayRequestEvent:
    id: str = field(default_factory=new_event_id)
    ts: float = field(default_factory=time.time)
    client: ClientKind = "unknown"
    protocol: str = "anthropic"
    session_id: str | None = None
    repo: str | None = None
    branch: str | None = None
    route_class: str | None = None
    confidence: float | None = None
    signals: dict[str, Any] = field(default_factory=dict)
    mode: str = "shadow"
    requested_provider: str | None = None
    requested_model: str | None = None
    selected_provider: str | None = None
    selected_model: str | None = None
    would_provider: str | None = None
    would_model: str | None = None
    fallback_chain: list[FallbackAttempt] = field(default_factory=list)
    status: EventStatus = "ok"
    http_status: int | None = None
    error_class: str | None = None
    # Redacted before it is written.
    error_message: str | None = None
    stream: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    # All cache writes; ``cache_write_1h_tokens`` is the part written with a 1-hour lifetime.
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    usage_estimated: bool = False
    cost_usd: float | None = None
    would_cost_usd: float | None = None
    savings_usd: float | None = None
    # True when a price was uncertain/unknown or tokens estimated (UI: "estimated").
    cost_estimated: bool = False
    latency_ms: float | None = None
    ttfb_ms: float | None = None
    # "hit" / "write" / "miss" / None (from cache read/write tokens).
    cache_status: str | None = None
    # None unless telemetry.store_prompts is on; redacted before it is written.
    prompt: str | None = None
    # The task (a user turn and its tool loop) and the routing decision that chose its model;
    # True when the session is in the routing holdout (served as requested in live mode).
    task_id: str | None = None
    decision_id: str | None = None
    holdout: bool = False
    # The client id the request is attributed to (governance); for a refusal, ``error_class``
    # holds the rule that refused it and ``error_message`` the reason.
    client_id: str | None = None
    # Why the model stopped, as the upstream said it ("end_turn", "stop", "tool_calls", …).
    stop_reason: str | None = None


_JSON_FIELDS = frozenset({"signals", "fallback_chain"})
_BOOL_FIELDS = frozenset({"stream", "usage_estimated", "cost_estimated", "holdout"})
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(GatewayRequestEvent))
_ALL = attrgetter(*COLUMNS)
_SIGNALS = COLUMNS.index("signals")
_CHAIN = COLUMNS.index("fallback_chain")
_BOOLS = tuple(COLUMNS.index(name) for name in sorted(_BOOL_FIELDS))


def _plain(value: object) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return str(value)


def _json(value: object) -> str:
    """Compact JSON (orjson writes dataclasses such as ``FallbackAttempt`` itself)."""
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"), default=_plain)


def to_row(event: GatewayRequestEvent) -> tuple[object, ...]:
    """The event as a tuple in ``COLUMNS`` order (JSON text for signals/fallback_chain)."""
    row = list(_ALL(event))
    row[_SIGNALS] = _json(row[_SIGNALS])
    row[_CHAIN] = _json(row[_CHAIN])
    for i in _BOOLS:
        row[i] = int(bool(row[i]))
    return tuple(row)


def from_row(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as a JSON-ready dict (JSON columns parsed, booleans restored)."""
    out = dict(row)
    for name in _JSON_FIELDS:
        if isinstance(out.get(name), str):
            out[name] = json.loads(out[name])
    for name in _BOOL_FIELDS:
        if name in out and out[name] is not None:
            out[name] = bool(out[name])
    return out


def cache_status(cache_read_tokens: int, cache_write_tokens: int) -> str:
    """ "hit" when anything was read from cache, "write" when only written, else "miss"."""
    if cache_read_tokens > 0:
        return "hit"
    return "write" if cache_write_tokens > 0 else "miss"


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def row_usage(row: Mapping[str, Any]) -> Usage:
    """A stored event's token counts as the upstream billed them (anything not a positive whole
    number reads as 0): what a replay re-bills (``routing.backtest``, ``compose.restore``)."""
    return Usage(
        input_tokens=_count(row.get("input_tokens")),
        output_tokens=_count(row.get("output_tokens")),
        cache_read_tokens=_count(row.get("cache_read_tokens")),
        cache_write_tokens=_count(row.get("cache_write_tokens")),
        cache_write_1h_tokens=_count(row.get("cache_write_1h_tokens")),
        reasoning_tokens=_count(row.get("reasoning_tokens")),
        estimated=bool(row.get("usage_estimated")),
    )
