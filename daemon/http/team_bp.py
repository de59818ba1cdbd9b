"""The team view's API: ``GET /team?since=7d`` (gateway key; the CLI's ``stats --team``) and the
same report at ``GET /ui/api/team`` (the dashboard's session), read from the shared PostgreSQL
ledger (``telemetry.postgres_url``); ``GET /team/status``: this daemon's shipping to it.

The report is ``telemetry.postgres_queries.report`` (totals; spend per person, machine,
repository, model and day; routes taken; refusals and errors) plus ``ledger``: this daemon's
counters (shipped, pending, failed, the masked URL, why nothing ships). Read in a worker thread:
the event loop never waits on the database. The ledger off → 409 saying which key turns it on;
the database unreachable → 503 with the (password-masked) reason (the dashboard's copy answers
both as 200 with ``unavailable``). Owns no query.
"""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Blueprint, Response, jsonify, request

from ..compose.state import GatewayState, state
from ..core.errors import GatewayError, InvalidRequest
from .since import parse_since

bp = Blueprint("team", __name__)

OFF = (
    "the team ledger is off: set telemetry.postgres_url in the config file "
    "(docs/teams.md), then restart the gateway"
)


def ledger_status(st: GatewayState) -> dict[str, Any]:
    ledger = st.writer.ledger if st.writer is not None else None
    return ledger.status() if ledger is not None else {"enabled": False}


def _read(url: str, since: float | None) -> dict[str, Any]:
    import psycopg  # the team extra (installed whenever the URL is set: compose.root checks)

    from ..telemetry import postgres, postgres_queries

    try:
        return postgres_queries.report(url, since=since)
    except psycopg.Error as exc:
        raise GatewayError(f"the team ledger cannot be read: {postgres.describe(exc)}", status=503) from None


async def _report() -> Response:
    st = state()
    url = st.config.telemetry.postgres_url
    since = parse_since(request.args.get("since", "7d"))
    if not url:
        raise InvalidRequest(OFF, status=409)
    out = await asyncio.to_thread(_read, url, since)
    return jsonify({**out, "ledger": ledger_status(st)})


@bp.get("/team")
async def team() -> Response:
    return await _report()


@bp.get("/ui/api/team")
async def ui_team() -> Response:
    """The dashboard's copy: the ledger off or unreadable is a state the view shows, so it
    answers 200 with ``unavailable`` (the reason) instead of an error status."""
    try:
        return await _report()
    except GatewayError as exc:
        return jsonify({"unavailable": exc.message, "ledger": ledger_status(state())})


@bp.get("/team/status")
async def team_status() -> Response:
    return jsonify(ledger_status(state()))
