"""The request pipeline: parse → resolve → classify and plan → execute with fallback → finish.

Composes the wire registry, routing and executors for every client protocol; the HTTP blueprints
stay thin. In shadow mode the plan serves the requested route and only records what live routing
would have done; in live mode it serves the plan. A failed candidate falls back to the next one
only before any byte reached the client, and every attempt is recorded in the fallback chain.
Each candidate gets its own request body and its own output limit: an edit or clamp made for one
never reaches the next. With ``cache.responses.enabled``, a cacheable request (``cache.policy``) is
looked up after classification and answered from the cache on a hit; a successful non-stream
answer is stored.

The request's record is finished here and only here: at once for a whole body or an error, at
the end of the stream for a stream (``_finishing`` wraps it once). Finishing runs the state's
``settle`` hook: breaker and session memory, then telemetry.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

from .cache import policy as cache_policy
from .cache.replay import entry_from_body, hit_outcome
from .cache.store import ResponseCache
from .compose.state import GatewayState
from .core import jsonfast
from .core.context import FallbackAttempt, RequestRecord
from .core.errors import GatewayError, InternalError, InvalidRequest, NoProviderAvailable
from .core.ir import GatewayRequest, TextPart
from .core.tokens import estimate_request_tokens
from .costs.cache_state import cache_identity
from .costs.conditions import price_conditions
from .execute.bridge import bridge
from .execute.outcome import Outcome
from .execute.passthrough import PassthroughCall, passthrough
from .execute.translated import translated
from .routing.attribution import client_kind, header_map, repo_and_branch, session_id
from .upstream.credentials import ClientCredential
from .upstream.targets import Target
from .wires.anthropic.request import parse_request
from .wires.base import Wire
from .wires.cache_hints import BILLING_HEADER, CacheHints, strip_billing_header
from .wires.registry import WIRES

MAX_PROMPT_CHARS = 16_000


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


async def _aclose(stream: AsyncIterator[bytes]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


async def _finishing(
    stream: AsyncIterator[bytes], record: RequestRecord, st: GatewayState | None
) -> AsyncIterator[bytes]:
    """The client's stream: the executor's, with the record finished once when it ends.

    A client that goes away closes the executor's stream first (its upstream response is
    closed and its usage taken), then the record is finished as 499; a stream still running when
    the daemon's graceful shutdown ran out is finished as 503 (cut at shutdown).
    """
    try:
        async for chunk in stream:
            yield chunk
    except (GeneratorExit, asyncio.CancelledError):
        await _aclose(stream)
        if st is not None and st.stopping:
            record.error = "cut at shutdown: the stream outlived graceful_timeout"
            record.finish(503)
        else:
            record.error = "client disconnected"
            record.finish(499)
        raise
    except Exception as exc:  # a bug mid-stream: still one finished record, never a lost one
        await _aclose(stream)
        record.finish(record.status or 200, InternalError(f"internal gateway error ({type(exc).__name__})"))
        raise
    record.finish(record.status or 200, record.stream_error)


def prompt_text(request: GatewayRequest) -> str:
    """The latest user turn's text for ``telemetry.store_prompts`` (capped at ``MAX_PROMPT_CHARS``)."""
    texts: list[str] = []
    for message in reversed(request.messages):
        if message.role != "user":
            break
        texts.insert(0, "\n".join(p.text for p in message.parts if isinstance(p, TextPart)))
    return "\n".join(t for t in texts if t)[:MAX_PROMPT_CHARS]


def _cache_identity(session: str | None, request: GatewayRequest) -> str:
    """The request's prompt-cache identity: session + system text (billing line removed) + tool
    names. Hashes ~the system prompt only, never the messages (cheap on 200 KB turns)."""
    texts = (
        strip_billing_header(part.text) if BILLING_HEADER in part.text else part.text
        for part in request.system
    )
    return cache_identity(session, texts, (tool.name for tool in request.tools))


def _reasoning_keeper(
    st: GatewayState, record: RequestRecord, target: Target
) -> Callable[[int], bool] | None:
    """Live mode: which of the client's reasoning items ``target`` may read (those it made)."""
    ctx = record.context
    if ctx.mode != "live" or ctx.history_items is None or ctx.cache_identity is None or ctx.requested is None:
        return None
    return st.router.tasks.keeper(ctx.cache_identity, (target.spec.name, target.model), ctx.requested)


def finished(outcome: Outcome, record: RequestRecord, st: GatewayState | None = None) -> Outcome:
    """Hand ``outcome`` to the client with its record finished now (a body) or at its end (a stream)."""
    if outcome.stream is None:
        record.finish(outcome.status, outcome.error)
        return outcome
    record.context.streaming = True
    return replace(outcome, stream=_finishing(outcome.stream, record, st))


async def _attempt(
    st: GatewayState,
    *,
    wire: Wire,
    target: Target,
    request: GatewayRequest,
    body: dict[str, Any],
    raw: bytes,
    query: str,
    headers: list[tuple[str, str]],
    credential: ClientCredential | None,
    record: RequestRecord,
    max_tokens: int | None,
) -> Outcome:
    """One candidate, once: ``body`` and the output limit are this attempt's own."""
    st.providers.check_loop(target)
    record.provider, record.upstream_model = target.spec.name, target.model
    if target.spec.bridge is not None:  # a local process (the Claude Code CLI), not an HTTP upstream
        return await bridge(
            st.providers.claude_cli(), target=target, request=request, renderer=wire.renderer, record=record
        )
    record.translated = wire.name not in target.spec.wires
    key = await st.keys.aget(target.spec)
    hints = CacheHints(st.config.cache.prefix_markers, record.context.session)
    task = record.context.task
    effort = task.effort if task is not None else None
    if not record.translated:
        call = PassthroughCall(
            target,
            wire,
            headers,
            raw,
            body,
            query,
            max_tokens=max_tokens,
            cache=hints,
            keep_reasoning=_reasoning_keeper(st, record, target),
            effort=effort,
        )
        return await passthrough(
            st.upstream,
            call,
            provider_key=key,
            client_credential=credential,
            request=request,
            record=record,
        )
    if max_tokens is not None and (request.max_tokens is None or request.max_tokens > max_tokens):
        request = replace(request, max_tokens=max_tokens)
    if effort is not None and request.thinking is not None and request.thinking.effort is not None:
        request = replace(request, thinking=replace(request.thinking, effort=effort))
    return await translated(
        st.upstream,
        target=target,
        request=request,
        provider_key=key,
        renderer=wire.renderer,
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
    wire = WIRES[protocol]
    ctx = record.context
    hmap = header_map(headers)
    ctx.client = client_kind(hmap)
    ctx.session = session_id(hmap)
    ctx.repo, ctx.branch = repo_and_branch(hmap)
    ctx.price_conditions = price_conditions(hmap)
    ctx.mode = st.mode.mode
    chain = ctx.chain
    record.on_finish = st.settle
    try:
        parsed: dict[str, Any] | None = parse_json_body(raw)
        assert parsed is not None
        request = wire.parse_request(parsed)
        record.client_model, record.stream = request.model, request.stream
        ctx.cache_identity = _cache_identity(ctx.session, request)
        if isinstance(items := parsed.get("input"), list):
            ctx.history_items = len(items)
        if st.config.telemetry.store_prompts:
            ctx.prompt = prompt_text(request)
        requested = st.router.resolve(request.model)
        ctx.requested = (requested.spec.name, requested.model)
        st.governance.admit(record, request, requested.spec.name, requested.model, parsed, hmap)
        decision, plan, ctx.task = st.router.decide(
            request,
            requested,
            mode=ctx.mode,
            client=ctx.client,
            session=ctx.session,
            identity=ctx.cache_identity,
            conditions=ctx.price_conditions,
            degrade=ctx.degrade,
            allowed=ctx.allowed_providers,
        )
        ctx.decision = decision
        ctx.plan_reasons = list(plan.reasons)
        if plan.would_route is not None:
            ctx.would = (plan.would_route.provider, plan.would_route.model)
        cache, cache_key = st.response_cache, None
        if cache is not None:
            cache_key, ctx.response_cache = cache_policy.decide(request, decision.route_class, decision.rule)
            entry = await cache.aget(cache_key) if cache_key is not None else None
            if entry is not None:
                return finished(hit_outcome(entry, request, wire.renderer, record), record, st)
        candidates = plan.serve or ()
        for i, cand in enumerate(candidates):
            last = i == len(candidates) - 1
            breakers = st.router.breakers
            if not last and not breakers.allow(cand.provider):
                chain.append(FallbackAttempt(cand.provider, cand.model, "skipped", "circuit_open"))
                continue
            target = st.router.target_for(cand, requested)
            # The first attempt edits the body parsed above; any later one gets a fresh copy.
            body, parsed = (parsed, None) if parsed is not None else (parse_json_body(raw), None)
            try:
                outcome = await _attempt(
                    st,
                    wire=wire,
                    target=target,
                    request=request,
                    body=body,
                    raw=raw,
                    query=query,
                    headers=headers,
                    credential=credential,
                    record=record,
                    max_tokens=cand.max_tokens,
                )
            except GatewayError as err:
                breakers.record(cand.provider, err)
                chain.append(FallbackAttempt(cand.provider, cand.model, "error", err.kind))
                if err.retryable and not last:
                    continue
                raise
            if outcome.stream is None:  # a stream's outcome is known at its end (settle)
                breakers.record(cand.provider, outcome.error)
            if outcome.error is not None:
                chain.append(FallbackAttempt(cand.provider, cand.model, "error", outcome.error.kind))
                if outcome.error.retryable and not last:
                    continue
                return finished(outcome, record, st)
            chain.append(FallbackAttempt(cand.provider, cand.model, "ok"))
            if (
                outcome.stream is None
                and cache is not None
                and cache_key is not None
                and outcome.status == 200
            ):
                await _store_response(cache, cache_key, protocol, outcome, request, record)
            return finished(outcome, record, st)
        raise NoProviderAvailable("no provider could serve this request", provider=requested.spec.name)
    except GatewayError as exc:
        record.finish(error=exc)
        raise
    except asyncio.CancelledError:  # the client went away before the first byte
        record.error = "client disconnected"
        record.finish(499)
        raise
    except Exception as exc:  # a bug: the client gets a 500 and the request is still recorded
        record.finish(error=InternalError(f"internal gateway error ({type(exc).__name__})"))
        raise


async def count_tokens(
    st: GatewayState,
    *,
    raw: bytes,
    query: str,
    headers: list[tuple[str, str]],
    credential: ClientCredential | None,
    request_id: str,
) -> Outcome:
    """``/v1/messages/count_tokens``: Anthropic's own count when the model is an Anthropic one and
    a credential is at hand, else the local estimate (marked ``x-stackbilt-estimate``)."""
    parsed = parse_json_body(raw)
    req = parse_request(parsed, require_max_tokens=False)
    target = st.router.resolve(req.model)
    key = await st.keys.aget(target.spec)
    if "anthropic" in target.spec.wires and target.spec.bridge is None and (key or credential):
        st.providers.check_loop(target)
        record = RequestRecord(request_id, "anthropic-count", client_model=req.model)
        call = PassthroughCall(
            target, WIRES["anthropic"], headers, raw, parsed, query=query, path="/v1/messages/count_tokens"
        )
        return await passthrough(
            st.upstream, call, provider_key=key, client_credential=credential, request=None, record=record
        )
    body = f'{{"input_tokens":{estimate_request_tokens(parsed)}}}'.encode()
    return Outcome(
        200, [("content-type", "application/json"), ("x-stackbilt-estimate", "chars/4")], body=body
    )


def explain(
    st: GatewayState, *, protocol: str, body: dict[str, Any], headers: list[tuple[str, str]]
) -> dict[str, Any]:
    """What routing would decide for this request now, as a dry run (``stackbilt-gw explain``):
    class, signals, the task and fresh-context verdicts, each candidate with its reason and
    expected task cost, the cache state. Nothing is sent upstream and nothing is remembered."""
    wire = WIRES[protocol]
    hmap = header_map(headers)
    client, session = client_kind(hmap), session_id(hmap)
    request = wire.parse_request(body)
    requested = st.router.resolve(request.model)
    identity = _cache_identity(session, request)
    decision, plan, task = st.router.explain(
        request,
        requested,
        mode=st.mode.mode,
        client=client,
        session=session,
        identity=identity,
        conditions=price_conditions(hmap),
    )
    would = plan.would_route
    return {
        "mode": st.mode.mode,
        "client": client,
        "session": session,
        "requested": f"{requested.spec.name}/{requested.model}",
        "route_class": decision.route_class,
        "rule": decision.rule,
        "confidence": decision.confidence,
        "signals": dict(decision.signals),
        "task": (
            {"start": task.start, "fresh_context": task.fresh, "holdout": task.holdout, **task.detail}
            if task is not None
            else None
        ),
        "plan_reasons": list(plan.reasons),
        "would_serve": would.key if would is not None else None,
        "serve": [c.key for c in plan.serve],
    }
