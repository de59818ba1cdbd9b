"""The backtest API (gateway key required): ``GET /backtest?since=7d`` replays the recorded events
through the daemon's own route table; ``POST /backtest`` with ``{"routes": {class: [targets]},
"since": "7d"}`` replays them through that table (its classes replace the daemon's, whole).

Thin: parses the inputs, reads the events and runs ``routing.backtest`` in a worker thread (the
event loop never waits on disk or on the replay) with the daemon's registry, prices, configured
providers and routing knobs. Owns no replay logic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from quart import Blueprint, Response, jsonify, request

from ..compose.state import GatewayState, state
from ..core.errors import InvalidRequest
from ..core.route_classes import ROUTE_CLASSES, RouteClass
from ..routing import backtest
from .since import parse_since

bp = Blueprint("backtest", __name__)


def _table(st: GatewayState, routes: object) -> dict[RouteClass, Sequence[str]]:
    table = dict(st.router.table)
    if routes is None:
        return table
    if not isinstance(routes, Mapping):
        raise InvalidRequest('routes must be an object like {"summary": ["provider/model"]}', param="routes")
    for name, targets in routes.items():
        if name not in ROUTE_CLASSES:
            raise InvalidRequest(
                f"unknown route class {name!r} (known: {', '.join(ROUTE_CLASSES)})", param="routes"
            )
        if not isinstance(targets, list) or not all(isinstance(t, str) and t for t in targets):
            raise InvalidRequest(f"routes.{name} must be a list of provider/model strings", param="routes")
        table[name] = tuple(targets)
    return table


def _run(st: GatewayState, table: dict[RouteClass, Sequence[str]], since: float | None) -> dict[str, Any]:
    router = st.router
    knobs = router.config.routing
    policy = backtest.Policy(
        table=table,
        registry=router.registry,
        prices=router.prices,
        configured=router.is_configured,
        allow_experimental=knobs.allow_experimental,
        min_confidence=knobs.min_confidence,
        ladders=router.ladders,
        fresh_context=knobs.fresh_context,
    )
    report = backtest.backtest(backtest.load(st.db_path, since=since), policy)
    return {**report.as_dict(), "since": since, "routes": {k: list(v) for k, v in table.items()}}


@bp.get("/backtest")
async def backtest_current() -> Response:
    st = state()
    since = parse_since(request.args.get("since", "7d"))
    return jsonify(await asyncio.to_thread(_run, st, _table(st, None), since))


@bp.post("/backtest")
async def backtest_table() -> Response:
    st = state()
    body = await request.get_json(force=True, silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InvalidRequest('send a JSON object like {"routes": {...}, "since": "7d"}')
    raw_since = body.get("since", request.args.get("since", "7d"))
    since = parse_since(str(raw_since) if raw_since is not None else None)
    return jsonify(await asyncio.to_thread(_run, st, _table(st, body.get("routes")), since))
