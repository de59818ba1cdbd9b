"""The app factory: one Quart app with its guards, error rendering and blueprints.

``create_app`` takes explicit inputs (config, keys, an injectable upstream transport), has
``compose.root`` build the gateway's state once, and does no I/O itself; the upstream client
opens and closes with the app's lifespan.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from typing import cast

import httpx
from quart import Quart, Response, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..compose.restore import restore_caches, restore_producers, restore_tasks
from ..compose.root import build_state
from ..compose.state import GatewayState
from ..control.paths import Paths, resolve_paths
from ..control.secrets import KeyStore
from ..core.config import Config
from ..core.errors import GatewayError, InternalError, InvalidRequest, NotFound, RequestTooLarge
from ..core.providers import builtin_providers
from ..governance.notice import BUDGET_WARNING_HEADER, budget_warning
from ..pipeline import new_request_id
from ..upstream.credentials import needs_key
from . import (
    anthropic_bp,
    backtest_bp,
    compact_bp,
    control_bp,
    envelope_bp,
    explain_bp,
    health_bp,
    metrics_bp,
    openai_bp,
    routing_bp,
    team_bp,
    ui_bp,
)
from .guard import (
    OPEN_PATHS,
    authenticate,
    check_host,
    check_origin,
    check_session_csrf,
    session_allowed,
)
from .respond import error_response
from .session import CSRF_HEADER, SessionStore, cookie_name

log = logging.getLogger("stackbilt_gateway.http")


def create_app(
    config: Config,
    *,
    gateway_key: str,
    keys: KeyStore,
    env: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    paths: Paths | None = None,
    telemetry: bool = True,
) -> Quart:
    """Build the app. ``telemetry=False`` keeps events out of SQLite (some unit tests)."""
    env = dict(os.environ if env is None else env)  # a snapshot: os.environ is slow to read
    paths = paths or resolve_paths()
    app = Quart(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.config["BODY_TIMEOUT"] = 120
    app.config["RESPONSE_TIMEOUT"] = None
    st = build_state(
        config,
        gateway_key=gateway_key,
        keys=keys,
        env=env,
        paths=paths,
        transport=transport,
        telemetry=telemetry,
    )
    router, writer = st.router, st.writer
    app.extensions["stackbilt"] = st
    app.extensions["stackbilt_paths"] = paths
    sessions = app.extensions["stackbilt_sessions"] = SessionStore()
    session_cookie = cookie_name(config.port)

    async def _refresh_configured() -> None:
        specs = builtin_providers().values()
        while True:
            found = set()
            for spec in specs:
                if not needs_key(spec) or await keys.aget(spec):
                    found.add(spec.name)
            router.configured = found
            await asyncio.sleep(30)

    @app.before_serving
    async def _start() -> None:
        if writer is not None:
            paths.data_dir.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(writer.prepare)
            writer.start()
            await asyncio.to_thread(st.governance.seed, st.db_path)
            await asyncio.to_thread(_restore_caches, st)
        app.extensions["stackbilt_tasks"] = [asyncio.get_running_loop().create_task(_refresh_configured())]

    @app.after_serving
    async def _stop() -> None:
        for task in app.extensions.get("stackbilt_tasks", []):
            task.cancel()
        await st.upstream.aclose()
        if writer is not None:
            await asyncio.to_thread(writer.close)
        if st.otlp is not None:  # sends what is queued, within its export timeout
            await asyncio.to_thread(st.otlp.shutdown)

    @app.before_request
    async def _guard() -> None:
        g.request_id = new_request_id()
        g.client_credential = None
        budget_warning.set(None)
        check_host(request.headers.get("host"), config.allowed_hosts)
        check_origin(request.method, request.headers.get("origin"), config.allowed_hosts)
        if request.path in OPEN_PATHS or ui_bp.is_token_exchange(request.path, request.args):
            return
        if session_allowed(request.path) and sessions.valid(request.cookies.get(session_cookie)):
            headers = request.headers
            check_session_csrf(
                request.method, headers.get("origin"), headers.get("host"), headers.get(CSRF_HEADER)
            )
            return
        g.client_credential = authenticate(
            cast(Mapping[str, str], request.headers), gateway_key, st.governance.directory
        )

    @app.after_request
    async def _budget_warning(response: Response) -> Response:
        warning = budget_warning.get()
        if warning:
            response.headers[BUDGET_WARNING_HEADER] = warning[:1000]
        return response

    @app.after_request
    async def _close_after_refused_body(response: Response) -> Response:
        """An error answered to a request with a body the gateway may not have read (a 401 from
        the guard, a 413, a 429): say ``Connection: close``. The server drops such a connection
        after answering; without the header a client reusing it gets "disconnected"."""
        headers = request.headers
        if response.status_code >= 400 and _has_body(
            headers.get("content-length"), headers.get("transfer-encoding")
        ):
            response.headers["Connection"] = "close"
        return response

    @app.errorhandler(GatewayError)
    async def _gateway_error(err: GatewayError) -> Response:
        if envelope_bp.owns(request.path):
            return envelope_bp.error_response(err, g.get("request_id"))
        if ui_bp.is_page(request.path):
            return ui_bp.error_page(err)
        return error_response(err, request.path, g.get("request_id"))

    @app.errorhandler(RequestEntityTooLarge)
    async def _too_large(_: RequestEntityTooLarge) -> Response:
        err = RequestTooLarge(
            f"the request body exceeds the gateway's limit of {config.max_body_bytes} bytes "
            "(max_body_bytes in the config file)"
        )
        return error_response(err, request.path, g.get("request_id"))

    @app.errorhandler(HTTPException)
    async def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        err: GatewayError
        if status == 404:
            err = NotFound(f"no endpoint at {request.method} {request.path}")
        elif status == 405:
            err = InvalidRequest(f"method {request.method} is not allowed on {request.path}", status=405)
        else:
            err = InvalidRequest(exc.description or exc.name, status=status)
        return error_response(err, request.path, g.get("request_id"))

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        err = InternalError(f"internal gateway error ({type(exc).__name__}); see the daemon log")
        return error_response(err, request.path, g.get("request_id"))

    app.register_blueprint(health_bp.bp)
    app.register_blueprint(anthropic_bp.bp)
    app.register_blueprint(openai_bp.bp)
    app.register_blueprint(control_bp.bp)
    app.register_blueprint(metrics_bp.bp)
    app.register_blueprint(compact_bp.bp)
    app.register_blueprint(backtest_bp.bp)
    app.register_blueprint(explain_bp.bp)
    app.register_blueprint(team_bp.bp)
    app.register_blueprint(routing_bp.bp)
    app.register_blueprint(envelope_bp.bp)
    app.register_blueprint(ui_bp.bp)
    return app


def _has_body(length: str | None, transfer_encoding: str | None) -> bool:
    """Whether a request carries a body (by its framing headers)."""
    return bool(transfer_encoding) or (length is not None and length.strip() not in ("", "0"))


def _restore_caches(st: GatewayState) -> None:
    """The prompt-cache book and the reasoning producers from the recent events (a failure is
    logged; serving goes on cold)."""
    try:
        replayed = restore_caches(st.router.caches, st.db_path)
        now = st.router.caches.clock()
        producers = restore_producers(st.router.tasks, st.db_path, now)
        restore_tasks(st.router.tasks, st.db_path, now)
    except Exception:  # a damaged database must not keep the gateway from starting
        log.exception("could not rebuild the prompt-cache model from recent events; starting cold")
        return
    if replayed or producers:
        log.info(
            "prompt-cache model rebuilt from %d recent events (%d reasoning producers)", replayed, producers
        )


def begin_shutdown(app: Quart) -> None:
    """The daemon was asked to stop: streams cut from now on are recorded as cut at shutdown."""
    app.extensions["stackbilt"].stopping = True
