"""The dashboard: session hand-off, the page and its static files, and its small JSON APIs.

- ``POST /control/session`` (gateway key) → ``{"url": "/ui/?token=…"}``, a one-time link.
- ``GET /ui/?token=…`` trades the token for the session cookie and redirects to ``/ui/``.
- ``GET /ui/`` and ``/ui/static/*``: the page (``webui/static``), behind the cookie or the key.
- ``GET /ui/api/settings|series|routes|providers|facets``: what the views need beyond the read
  APIs of ``metrics_bp`` (which the page also calls with its cookie).

A request without a session gets a 401 page saying how to open the dashboard. The guard
(``app._guard``) does the checking; this module owns the pages, headers and answers. The
numbers come from ``telemetry.dashboard``: the API handlers parse the query string, call it in
a worker thread and render its result as JSON; no SQL here.
"""

from __future__ import annotations

import asyncio
import html
import time
from importlib import resources
from pathlib import Path
from typing import Any

from quart import Blueprint, Response, current_app, jsonify, request, send_from_directory
from werkzeug.datastructures import MultiDict

from .. import __version__
from ..compose.state import state
from ..core.errors import AuthenticationFailed, GatewayError, InvalidRequest, NotFound
from ..core.providers import builtin_providers
from ..telemetry import dashboard
from .session import cookie_header, cookie_name
from .since import parse_since

bp = Blueprint("ui", __name__)
DEMO_ENV = "STACKBILT_DEMO"
OPEN_HINT = "stackbilt-gw dashboard --browser"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def static_dir() -> Path:
    """``webui/static`` of the installed package."""
    return Path(str(resources.files("stackbilt_gateway.webui"))) / "static"


class LinkSpent(AuthenticationFailed):
    """A one-time dashboard link that was already used, expired or never issued."""


def is_token_exchange(path: str, args: MultiDict[str, str]) -> bool:
    """The one unauthenticated UI request: ``GET /ui/?token=…`` (the handler checks the token)."""
    return path == "/ui/" and "token" in args


def is_page(path: str) -> bool:
    """UI paths that answer errors as an HTML page (``/ui/api/*`` answers JSON)."""
    return (path == "/ui" or path.startswith("/ui/")) and not path.startswith("/ui/api/")


def is_demo() -> bool:
    return state().env.get(DEMO_ENV) == "1"


def _secure(resp: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        resp.headers[name] = value
    return resp


def error_page(err: GatewayError) -> Response:
    """The HTML answer to a refused or failed UI request."""
    if isinstance(err, LinkSpent):
        title = "This dashboard link was already used or has expired"
        body = (
            "<p>Dashboard links work once, for 60 seconds. Get a new one with the tray's "
            f"<b>Open dashboard</b>, <code>stackbilt-gw dashboard</code>, or <code>{OPEN_HINT}</code>.</p>"
        )
    elif isinstance(err, AuthenticationFailed):
        title = "Open the dashboard from the gateway"
        body = (
            "<p>This page needs a dashboard session. Sessions start from a one-time link that works "
            "once, for 60 seconds.</p><p>Open it with the tray's <b>Open dashboard</b>, "
            f"<code>stackbilt-gw dashboard</code>, or in a browser with <code>{OPEN_HINT}</code>.</p>"
        )
    else:
        title = "The dashboard refused this request"
        body = f"<p>{html.escape(err.message)}</p><p>Open it again with <code>{OPEN_HINT}</code>.</p>"
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>StackBilt LLM Gateway</title>'
        '<link rel="stylesheet" href="/ui/static/app.css"></head><body class="refused"><main class="card">'
        f"<h1>{html.escape(title)}</h1>{body}<p class=muted>HTTP {err.status}</p></main></body></html>"
    )
    return _secure(Response(page, status=err.status, content_type="text/html; charset=utf-8"))


@bp.post("/control/session")
async def new_session() -> Response:
    # Read the (ignored) body: an unread body makes the server drop the kept-alive connection,
    # and a client reusing it (the tray, the CLI, a test's httpx client) sees "disconnected".
    await request.get_data()
    token = current_app.extensions["stackbilt_sessions"].issue_token()
    return jsonify({"url": f"/ui/?token={token}", "expires_in": 60})


@bp.get("/ui")
async def ui_root() -> Response:
    return Response("", status=308, headers={"Location": "/ui/"})


@bp.get("/ui/")
async def index() -> Response:
    token = request.args.get("token")
    if token is not None:
        session = current_app.extensions["stackbilt_sessions"].exchange(token)
        if session is None:
            raise LinkSpent(
                "this dashboard link was already used or has expired (links work once, for 60 seconds)"
            )
        resp = Response("", status=303, headers={"Location": "/ui/"})
        resp.headers["Set-Cookie"] = cookie_header(cookie_name(state().config.port), session)
        return _secure(resp)
    resp = await send_from_directory(static_dir(), "index.html")
    return _secure(resp)


@bp.get("/ui/static/<path:name>")
async def static_file(name: str) -> Response:
    try:
        resp = await send_from_directory(static_dir(), name)
    except Exception:
        raise NotFound(f"no dashboard file {name!r}") from None
    if name.endswith(".js"):
        resp.content_type = "text/javascript; charset=utf-8"
    return _secure(resp)


@bp.post("/ui/api/logout")
async def logout() -> Response:
    # Read the (ignored) body: an unread body makes the server drop the kept-alive connection,
    # and the dashboard's next request on it would fail.
    await request.get_data()
    name = cookie_name(state().config.port)
    current_app.extensions["stackbilt_sessions"].end(request.cookies.get(name))
    resp = jsonify({"ok": True})
    resp.headers["Set-Cookie"] = cookie_header(name, "", max_age=0)
    return resp


def _window() -> tuple[str, float]:
    since = request.args.get("since", "today")
    if since not in ("today", "7d", "30d"):
        raise InvalidRequest("since must be today, 7d or 30d", param="since")
    start = parse_since(since)
    assert start is not None
    return since, start


@bp.get("/ui/api/series")
async def api_series() -> Response:
    since, rolling = _window()
    now = time.time()
    bucket: dashboard.Bucket = "hour" if since == "today" else "day"
    # Whole calendar days: today, or the last N including today.
    start = dashboard.calendar_start(1 if since == "today" else int(since[:-1]), now)
    db = state().db_path
    points = await asyncio.to_thread(dashboard.series, db, bucket=bucket, since=start, now=now)
    split = await asyncio.to_thread(dashboard.savings_by_mode, db, since=rolling)
    return jsonify({"since": since, "bucket": bucket, "points": points, "savings": split})


@bp.get("/ui/api/routes")
async def api_routes() -> Response:
    st = state()
    _, start = _window()
    rows = await asyncio.to_thread(dashboard.routes, st.db_path, since=start)
    return jsonify(
        {
            "mode": st.mode.mode,
            "classes": rows,
            "table": {k: list(v) for k, v in st.router.table.items()},
            "min_confidence": st.config.routing.min_confidence,
        }
    )


@bp.get("/ui/api/providers")
async def api_providers() -> Response:
    st = state()
    _, start = _window()
    stats = await asyncio.to_thread(dashboard.providers, st.db_path, since=start)
    return jsonify({"stats": stats, "breakers": st.router.breakers.snapshot()})


@bp.get("/ui/api/facets")
async def api_facets() -> Response:
    return jsonify(await asyncio.to_thread(dashboard.facets, state().db_path))


def _key_sources() -> dict[str, str]:
    st = state()
    return {name: st.keys.source(spec) for name, spec in builtin_providers().items()}


@bp.get("/ui/api/settings")
async def api_settings() -> Response:
    st = state()
    cfg = st.config
    paths = current_app.extensions.get("stackbilt_paths")
    sources = await asyncio.to_thread(_key_sources)
    keys: dict[str, Any] = {}
    for name, spec in builtin_providers().items():
        where = sources[name]
        keys[name] = {
            "display_name": spec.display_name,
            "present": not where.startswith("not "),
            "source": where,
        }
    base = f"http://{request.host}"
    return jsonify(
        {
            "version": __version__,
            "demo": is_demo(),
            "mode": st.mode.mode,
            "listen": base,
            "config_files": [str(p) for p in cfg.sources],
            "user_config_file": str(paths.user_config_file) if paths else None,
            "database": str(st.db_path),
            "telemetry": {
                "retention_days": cfg.telemetry.retention_days,
                "store_prompts": cfg.telemetry.store_prompts,
            },
            "routing": {
                "min_confidence": cfg.routing.min_confidence,
                "allow_experimental": cfg.routing.allow_experimental,
                "shadow_fallback": cfg.routing.shadow_fallback,
                "long_context_tokens": cfg.routing.long_context_tokens,
            },
            "keys": keys,
            "clients": {
                "claude_code": ["stackbilt-gw claude", f"ANTHROPIC_BASE_URL={base}"],
                "codex": ["stackbilt-gw codex"],
            },
        }
    )
