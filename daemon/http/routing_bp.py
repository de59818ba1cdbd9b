"""``GET /routing/holdout?since=7d``: routed vs held-out sessions of live mode compared (requests
per task, tool-error results, client retries, cost per task), for the dashboard's "Routed vs
held out" panel and scripts (gateway key or the dashboard's session).

The numbers are ``telemetry.holdout.compare``'s, read in a worker thread; this module adds the
configured holdout share and the current mode, and owns no query.
"""

from __future__ import annotations

import asyncio

from quart import Blueprint, Response, jsonify, request

from ..compose.state import state
from ..telemetry import holdout
from .since import parse_since

bp = Blueprint("routing", __name__)


@bp.get("/routing/holdout")
async def routing_holdout() -> Response:
    st = state()
    since = request.args.get("since", "7d")
    start = parse_since(since)
    out = await asyncio.to_thread(holdout.compare, st.db_path, since=start)
    return jsonify(
        {
            "since": since,
            "mode": st.mode.mode,
            "holdout_share": st.config.routing.holdout,
            **out,
        }
    )
