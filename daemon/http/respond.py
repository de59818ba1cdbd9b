"""Turning outcomes and errors into Quart responses, in the client protocol's error shape."""

from __future__ import annotations

import json
import logging

from quart import Response
from werkzeug.datastructures import Headers

from ..core.errors import GatewayError
from ..execute.outcome import Outcome
from ..storage.redact import redact
from ..wires.registry import WIRES

log = logging.getLogger("stackbilt_gateway.http")


def protocol_for_path(path: str) -> str:
    """The client protocol whose error shape a path speaks."""
    if path.startswith("/v1/chat/completions"):
        return "chat"
    if path.startswith("/v1/responses"):
        return "responses"
    return "anthropic"


def error_response(err: GatewayError, path: str, request_id: str | None = None) -> Response:
    renderer = WIRES[protocol_for_path(path)].renderer
    status, headers, body = renderer.error(err)
    if request_id:
        headers = {**headers, "x-stackbilt-request-id": request_id}
        if renderer.protocol == "anthropic":
            body["request_id"] = request_id
    # Upstream error text can echo a prompt's secrets or a provider key: never hand them back.
    text = redact(json.dumps(body))
    return Response(text, status=status, headers=headers, content_type="application/json")


def outcome_response(outcome: Outcome, request_id: str) -> Response:
    headers = Headers([*outcome.headers, ("x-stackbilt-request-id", request_id)])
    if outcome.stream is not None:
        resp = Response(outcome.stream, status=outcome.status, headers=headers)
        resp.timeout = None  # Quart would cut streams at 60 s
        return resp
    return Response(outcome.body, status=outcome.status, headers=headers)
