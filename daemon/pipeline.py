"""The request pipeline: parse → resolve → execute (pass-through or translated).

Composes the client adapters, routing and executors for every client protocol; the HTTP
blueprints stay thin. Routing policy, classification and telemetry plug in here.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from .adapters.anthropic_request import parse_request
from .adapters.renderers import RENDERERS
from .adapters.responses_request import parse_responses_request
from .core.errors import GatewayError, InvalidRequest, NoProviderAvailable
from .core.ir import GatewayRequest
from .execute.common import ClientCredential, Outcome, RequestRecord
from .execute.passthrough import PASS_WIRES, PassthroughCall, passthrough
from .execute.translated import translated
from .http.state import GatewayState
from .providers.chat_parse import parse_chat_request
from .routing.resolve import Target, resolve_model

PARSERS: dict[str, Callable[[dict[str, Any]], GatewayRequest]] = {
    "anthropic": parse_request,
    "chat": parse_chat_request,
    "responses": parse_responses_request,
}


def new_request_id() -> str:
    return "req_gw_" + secrets.token_hex(12)


def parse_json_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise InvalidRequest("the request body is empty; expected a JSON object")
    try:
        body = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the request body is not UTF-8 JSON") from exc
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    if not isinstance(body, dict):
        raise InvalidRequest(f"the request body must be a JSON object, not {type(body).__name__}")
    return body


def check_loop(st: GatewayState, target: Target) -> None:
    reason = st.loops.get(target.spec.name)
    if reason:
        raise NoProviderAvailable(reason, provider=target.spec.name)


async def serve(
    st: GatewayState,
    *,
    protocol: str,
    raw: bytes,
    query: str,
    headers: list[tuple[str, str]],
    credential: ClientCredential | None,
    record: RequestRecord,
) -> Outcome:
    renderer = RENDERERS[protocol]
    try:
        parsed = parse_json_body(raw)
        request = PARSERS[protocol](parsed)
        record.client_model, record.stream = request.model, request.stream
        target = resolve_model(request.model, st.config, st.env)
        record.provider, record.upstream_model = target.spec.name, target.model
        check_loop(st, target)
        key = await st.keys.aget(target.spec)
        if protocol in target.spec.wires:
            call = PassthroughCall(target, PASS_WIRES[protocol], headers, raw, parsed, query)
            return await passthrough(
                st.upstream,
                call,
                provider_key=key,
                client_credential=credential,
                renderer=renderer,
                request=request,
                record=record,
            )
        record.translated = True
        return await translated(
            st.upstream, target=target, request=request, provider_key=key, renderer=renderer, record=record
        )
    except GatewayError as exc:
        record.finish(error=exc)
        raise
