"""The request pipeline: parse → resolve → classify and plan → execute with fallback → record.

Composes the client adapters, routing and executors for every client protocol; the HTTP
blueprints stay thin. In shadow mode the plan serves the requested route and only records
what live routing would have done; in live mode it serves the plan. A failed candidate falls
back to the next one only before any byte reached the client, and every attempt is recorded.
With ``cache.responses.enabled``, a cacheable request (``cache.policy``) is looked up after
classification and answered from the cache on a hit; a successful non-stream answer is stored.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from .cache import policy as cache_policy
from .cache.replay import entry_from_body, hit_outcome
from .cache.store import DB_NAME as RESPONSE_CACHE_DB
from .cache.store import ResponseCache
from .compose.state import GatewayState
from .core import jsonfast
from .core.errors import GatewayError, InvalidRequest, NoProviderAvailable
from .core.ir import GatewayRequest
from .execute.common import ClientCredential, Outcome, RequestRecord
from .execute.passthrough import PASS_WIRES, PassthroughCall, passthrough
from .execute.translated import translated
from .routing.attribution import client_kind, header_map, repo_and_branch, session_id
from .telemetry.events import FallbackAttempt
from .upstream.targets import Target
from .wires.anthropic.request import parse_request
from .wires.cache_hints import CacheHints
from .wires.chat.request import parse_chat_request
from .wires.renderers import RENDERERS, ClientRenderer
from .wires.responses.request import parse_responses_request

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
        body = jsonfast.loads(raw)
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the request body is not UTF-8 JSON") from exc
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    if not isinstance(body, dict):
        raise InvalidRequest(f"the request body must be a JSON object, not {type(body).__name__}")
    return body


def response_cache(st: GatewayState) -> ResponseCache | None:
    """The response cache when ``cache.responses.enabled`` (its file beside the telemetry db)."""
    settings = st.config.cache.responses
    if not settings.enabled:
        return None
    if st.response_cache is None:
        st.response_cache = ResponseCache(st.db_path.parent / RESPONSE_CACHE_DB, settings)
    return st.response_cache


async def _store_response(
    cache: ResponseCache,
    key: str,
    protocol: str,
    outcome: Outcome,
    request: GatewayRequest,
    record: RequestRecord,
) -> None:
    entry = entry_from_body(
        protocol,
        outcome.body,
        model=request.model,
        provider=record.provider,
        upstream_model=record.upstream_model,
    )
    if entry is not None:
        await cache.aput(key, entry)


def check_loop(st: GatewayState, target: Target) -> None:
    reason = st.loops.get(target.spec.name)
    if reason:
        raise NoProviderAvailable(reason, provider=target.spec.name)


async def _attempt(
    st: GatewayState,
    *,
    protocol: str,
    target: Target,
    request: GatewayRequest,
    parsed: dict[str, Any],
    raw: bytes,
    query: str,
    headers: list[tuple[str, str]],
    credential: ClientCredential | None,
    renderer: ClientRenderer,
    record: RequestRecord,
    max_tokens: int | None,
) -> Outcome:
    check_loop(st, target)
    record.provider, record.upstream_model = target.spec.name, target.model
    record.translated = protocol not in target.spec.wires
    key = await st.keys.aget(target.spec)
    hints = CacheHints(st.config.cache.prefix_markers, record.context.get("session"))
    if not record.translated:
        call = PassthroughCall(
            target, PASS_WIRES[protocol], headers, raw, parsed, query, max_tokens=max_tokens, cache=hints
        )
        return await passthrough(
            st.upstream,
            call,
            provider_key=key,
            client_credential=credential,
            renderer=renderer,
            request=request,
            record=record,
        )
    if max_tokens is not None and (request.max_tokens is None or request.max_tokens > max_tokens):
        request.max_tokens = max_tokens
    return await translated(
        st.upstream,
        target=target,
        request=request,
        provider_key=key,
        renderer=renderer,
        record=record,
        cache=hints,
    )


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
    ctx = record.context
    hmap = header_map(headers)
    ctx["client"] = client_kind(hmap)
    ctx["session"] = session_id(hmap)
    ctx["repo"], ctx["branch"] = repo_and_branch(hmap)
    ctx["mode"] = st.mode.mode
    chain: list[FallbackAttempt] = ctx.setdefault("chain", [])
    record.on_finish = st.recorder
    try:
        parsed = parse_json_body(raw)
        request = PARSERS[protocol](parsed)
        record.client_model, record.stream = request.model, request.stream
        requested = st.router.resolve(request.model, st.env)
        ctx["requested"] = (requested.spec.name, requested.model)
        decision, plan = st.router.decide(
            request, requested, mode=ctx["mode"], client=ctx["client"], session=ctx["session"]
        )
        ctx["decision"] = decision
        ctx["plan_reasons"] = list(plan.reasons)
        if plan.would_route is not None:
            ctx["would"] = (plan.would_route.provider, plan.would_route.model)
        cache, cache_key = response_cache(st), None
        if cache is not None:
            cache_key, ctx["response_cache"] = cache_policy.decide(
                request, decision.route_class, decision.rule
            )
            entry = await cache.aget(cache_key) if cache_key is not None else None
            if entry is not None:
                return hit_outcome(entry, request, renderer, record)
        candidates = plan.serve or ()
        for i, cand in enumerate(candidates):
            last = i == len(candidates) - 1
            breakers = st.router.breakers
            if not last and not breakers.allow(cand.provider):
                chain.append(FallbackAttempt(cand.provider, cand.model, "skipped", "circuit_open"))
                continue
            target = st.router.target_for(cand, requested, st.env)
            try:
                outcome = await _attempt(
                    st,
                    protocol=protocol,
                    target=target,
                    request=request,
                    parsed=parsed,
                    raw=raw,
                    query=query,
                    headers=headers,
                    credential=credential,
                    renderer=renderer,
                    record=record,
                    max_tokens=cand.max_tokens,
                )
            except GatewayError as err:
                breakers.record(cand.provider, err)
                chain.append(FallbackAttempt(cand.provider, cand.model, "error", err.kind))
                if err.retryable and not last:
                    continue
                raise
            if outcome.stream is None:  # a stream's outcome is known at its end (the recorder)
                breakers.record(cand.provider, outcome.error)
            if outcome.error is not None:
                chain.append(FallbackAttempt(cand.provider, cand.model, "error", outcome.error.kind))
                if outcome.error.retryable and not last:
                    continue
                record.finish(outcome.status, outcome.error)
                return outcome
            chain.append(FallbackAttempt(cand.provider, cand.model, "ok"))
            ctx["streaming"] = outcome.stream is not None
            if outcome.stream is None:
                record.finish(outcome.status)
                if cache is not None and cache_key is not None and outcome.status == 200:
                    await _store_response(cache, cache_key, protocol, outcome, request, record)
            return outcome
        raise NoProviderAvailable("no provider could serve this request", provider=requested.spec.name)
    except GatewayError as exc:
        record.finish(error=exc)
        raise
