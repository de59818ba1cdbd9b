"""Open endpoints: ``/health`` and Claude Code's ``HEAD /api/hello`` connectivity probe.

``/health`` answers 200 whenever the daemon serves. ``status`` is ``"degraded"`` when the
gateway itself is impaired — its telemetry writer is not writing (thread gone, never started,
or its buffer not drained for a long while: ``EventWriter.problem``) — and ``"ok"`` otherwise.
``degraded`` is true in that case and also while a provider's circuit breaker is open (requests
still go elsewhere); ``reasons`` says why, one line each. Counters are ``/metrics``'.
"""

from __future__ import annotations

import os
import time

from quart import Blueprint, Response, jsonify

from .. import __version__
from ..compose.state import GatewayState, state

bp = Blueprint("health", __name__)
STARTED = time.time()


def _gateway_problems(st: GatewayState) -> list[str]:
    """What keeps the gateway itself from doing its job (not an upstream's trouble)."""
    problem = st.writer.problem() if st.writer is not None else None
    return [problem] if problem else []


@bp.route("/health", methods=["GET", "HEAD"])
async def health() -> Response:
    st = state()
    problems = _gateway_problems(st)
    open_breakers = sorted(name for name, b in st.router.breakers.snapshot().items() if b["state"] == "open")
    return jsonify(
        {
            "status": "degraded" if problems else "ok",
            "service": "stackbilt-llm-gateway",
            "version": __version__,
            "pid": os.getpid(),
            "port": st.config.port,
            "uptime_s": round(time.time() - STARTED, 1),
            "mode": st.mode.mode,
            "degraded": bool(problems or open_breakers),
            "reasons": problems + [f"circuit breaker open: {name}" for name in open_breakers],
            # Set by `stackbilt-gw demo`: simulated upstream, throwaway data (the dashboard says so).
            "demo": st.env.get("STACKBILT_DEMO") == "1",
        }
    )


@bp.route("/api/hello", methods=["GET", "HEAD"])
async def hello() -> Response:
    return Response("", status=200)
