"""``POST /v1/context/compact``: a transcript in, structured durable facts out.

Body: a transcript — Anthropic ``messages`` (+ optional ``system``), Responses ``input``
(+ optional ``instructions``) or a Claude Code session file's text in ``jsonl`` — and an
optional ``model`` (``"auto"`` or ``"provider/model"``, default ``compaction.model``).
Answer: ``{"facts": {...}, "model": "provider/model", "chunks": N, "usage": {...},
"redacted": N}``. Errors use the Anthropic error shape (``{"type": "error", "error": {...}}``);
output that breaks the schema twice is a 502 ``api_error``. Thin: the work is in ``compact``.
"""

from __future__ import annotations

from quart import Blueprint, Response, g, jsonify, request

from ..compact.engine import compact
from ..compact.transcript import parse_transcript
from ..compact.upstream import GatewayModelCall, choose_model
from ..compose.state import GatewayState, state
from ..core.context import RequestContext
from ..core.errors import InvalidRequest
from ..core.providers import builtin_providers
from ..pipeline import parse_json_body
from ..routing.attribution import client_kind, header_map, repo_and_branch, session_id
from ..upstream.credentials import needs_key
from ..wires.cache_hints import CacheHints

bp = Blueprint("compact", __name__)


async def _configured(st: GatewayState) -> set[str]:
    """Providers with a usable key (the router's view, or asked now before its first refresh)."""
    if st.router.configured:
        return set(st.router.configured)
    found: set[str] = set()
    for spec in builtin_providers().values():
        if not needs_key(spec) or await st.keys.aget(spec):
            found.add(spec.name)
    return found


@bp.post("/v1/context/compact")
async def compact_transcript() -> Response:
    st = state()
    data = await request.get_data(cache=False, as_text=False)
    body = parse_json_body(data if isinstance(data, bytes) else data.encode())
    transcript = parse_transcript(body)
    setting = body.get("model", st.config.compaction.model)
    if not isinstance(setting, str) or not setting:
        raise InvalidRequest('model: expected "auto" or "provider/model"', param="model")
    configured = await _configured(st)

    def usable(provider: str) -> bool:
        settings = st.config.providers.get(provider)
        return (
            provider in configured
            and (settings is None or settings.enabled)
            and st.router.breakers.healthy(provider)
            and provider not in st.loops
        )

    model = choose_model(setting, router=st.router, usable=usable)
    st.providers.check_loop(model.target)
    hmap = header_map(request.headers.items())
    repo, branch = repo_and_branch(hmap)
    call = GatewayModelCall(
        upstream=st.upstream,
        model=model,
        key=await st.keys.aget(model.target.spec),
        breakers=st.router.breakers,
        request_id=g.request_id,
        on_finish=st.settle,
        context=RequestContext(
            client=client_kind(hmap), session=session_id(hmap), repo=repo, branch=branch, mode=st.mode.mode
        ),
        cache=CacheHints(st.config.cache.prefix_markers),
    )
    result = await compact(
        transcript,
        window=model.window,
        max_output=model.max_output,
        call=call,
        max_chunks=st.config.compaction.max_chunks,
    )
    u = result.usage
    cost = st.router.prices.cost(model.target.spec.name, model.target.model, u)
    return jsonify(
        {
            "facts": result.facts,
            "model": model.key,
            "chunks": result.chunks,
            "usage": {
                "calls": result.calls,
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "cache_read_tokens": u.cache_read_tokens,
                "cache_write_tokens": u.cache_write_tokens,
                "cost_usd": round(cost.total, 8) if cost.priced else None,
            },
            "redacted": transcript.redacted,
        }
    )
