"""Control endpoints (gateway key required): the shadow/live switch."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify, request

from ..compose.state import state
from ..control.mode import parse_mode
from ..core.errors import InvalidRequest

bp = Blueprint("control", __name__)


@bp.get("/control/mode")
async def get_mode() -> Response:
    return jsonify({"mode": state().mode.mode})


@bp.post("/control/mode")
async def set_mode() -> Response:
    body = await request.get_json(force=True, silent=True)
    if not isinstance(body, dict) or "mode" not in body:
        raise InvalidRequest('send a JSON object like {"mode": "live"}', param="mode")
    try:
        mode = parse_mode(body["mode"])
    except ValueError as exc:
        raise InvalidRequest(str(exc), param="mode") from exc
    return jsonify({"mode": state().mode.set(mode)})
