"""``stackbilt-gw explain``'s API (gateway key required).

``GET /explain/<event_id>``: a recorded event's routing story (class, signals, the task verdicts,
each candidate with its reason and expected cost, plan reasons, what served it).
``POST /explain`` with ``{"protocol": "anthropic"|"chat"|"responses", "body": {...}, "headers":
{...}}``: what routing would decide for that request now, as a dry run (``pipeline.explain``).
Thin: parses and validates the input, reads the event in a worker thread. Owns no routing logic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from quart import Blueprint, Response, jsonify, request

from ..compose.state import state
from ..core.errors import InvalidRequest, NotFound
from ..pipeline import explain, parse_json_body
from ..telemetry.queries import event_by_id

bp = Blueprint("explain", __name__)
CLIENT_PROTOCOLS = ("anthropic", "chat", "responses")

_EVENT_FIELDS = (
    "id",
    "ts",
    "mode",
    "client",
    "session_id",
    "route_class",
    "confidence",
    "requested_provider",
    "requested_model",
    "selected_provider",
    "selected_model",
    "would_provider",
    "would_model",
    "task_id",
    "decision_id",
    "holdout",
    "status",
    "cost_usd",
    "would_cost_usd",
    "savings_usd",
    "fallback_chain",
)


@bp.get("/explain/<event_id>")
async def explain_event(event_id: str) -> Response:
    if not event_id or len(event_id) > 200:
        raise InvalidRequest("an event id is expected", param="event_id")
    event = await asyncio.to_thread(event_by_id, state().db_path, event_id)
    if event is None:
        raise NotFound(f"no recorded event {event_id!r}")
    signals = event.get("signals") if isinstance(event.get("signals"), dict) else {}
    assert isinstance(signals, dict)
    out: dict[str, Any] = {name: event.get(name) for name in _EVENT_FIELDS}
    out["signals"] = {k: v for k, v in signals.items() if k not in ("plan_reasons", "task")}
    out["plan_reasons"] = signals.get("plan_reasons", [])
    out["task"] = signals.get("task")
    return jsonify(out)


@bp.post("/explain")
async def explain_request() -> Response:
    data = await request.get_data(cache=False, as_text=False)
    payload = parse_json_body(data if isinstance(data, bytes) else data.encode())
    protocol = payload.get("protocol")
    if protocol not in CLIENT_PROTOCOLS:
        raise InvalidRequest('protocol must be "anthropic", "chat" or "responses"', param="protocol")
    body = payload.get("body")
    if not isinstance(body, dict):
        raise InvalidRequest("body must be the request's JSON object", param="body")
    headers = payload.get("headers", {})
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise InvalidRequest("headers must be an object of strings", param="headers")
    pairs = [(k.lower(), v) for k, v in headers.items()]
    return jsonify(explain(state(), protocol=str(protocol), body=body, headers=pairs))
