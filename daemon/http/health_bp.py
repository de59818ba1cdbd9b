"""Open endpoints: ``/health`` and Claude Code's ``HEAD /api/hello`` connectivity probe."""

from __future__ import annotations

import os
import time

from quart import Blueprint, Response, jsonify

from .. import __version__
from ..compose.state import state

bp = Blueprint("health", __name__)
STARTED = time.time()


@bp.route("/health", methods=["GET", "HEAD"])
async def health() -> Response:
    st = state()
    return jsonify(
        {
            "status": "ok",
            "service": "stackbilt-llm-gateway",
            "version": __version__,
            "pid": os.getpid(),
            "port": st.config.port,
            "uptime_s": round(time.time() - STARTED, 1),
            "mode": st.mode.mode,
            "degraded": any(b["state"] == "open" for b in st.router.breakers.snapshot().values()),
            # Set by `stackbilt-gw demo`: simulated upstream, throwaway data (the dashboard says so).
            "demo": st.env.get("STACKBILT_DEMO") == "1",
        }
    )


@bp.route("/api/hello", methods=["GET", "HEAD"])
async def hello() -> Response:
    return Response("", status=200)
