"""Anthropic Messages endpoints: ``/v1/messages``, ``/v1/messages/count_tokens``, ``/v1/models``.

Thin: read the body, hand it to the pipeline, turn the outcome into a response.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from quart import Blueprint, Response, g, jsonify, request

from ..compose.state import state
from ..core.context import RequestRecord
from ..core.errors import GatewayError, InvalidRequest, NotFound
from ..core.providers import builtin_providers
from ..pipeline import count_tokens as count_request_tokens
from ..pipeline import serve
from ..upstream.catalog import models_of
from ..upstream.cli_bridge import find_binary
from ..upstream.targets import alias_table
from .respond import outcome_response

bp = Blueprint("anthropic", __name__)
EPOCH = datetime(2025, 1, 1, tzinfo=UTC).isoformat().replace("+00:00", "Z")


async def _body() -> bytes:
    data = await request.get_data(cache=False, as_text=False)
    return data if isinstance(data, bytes) else data.encode()


def _headers() -> list[tuple[str, str]]:
    return list(request.headers.items())


@bp.post("/v1/messages")
async def messages() -> Response:
    raw = await _body()
    record = RequestRecord(g.request_id, "anthropic")
    outcome = await serve(
        state(),
        protocol="anthropic",
        raw=raw,
        query=request.query_string.decode("latin-1"),
        headers=_headers(),
        credential=g.client_credential,
        record=record,
    )
    return outcome_response(outcome, g.request_id)


@bp.post("/v1/messages/count_tokens")
async def count_tokens() -> Response:
    outcome = await count_request_tokens(
        state(),
        raw=await _body(),
        query=request.query_string.decode("latin-1"),
        headers=_headers(),
        credential=g.client_credential,
        request_id=g.request_id,
    )
    return outcome_response(outcome, g.request_id)


CREATED = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())


def _model_info(model_id: str, context_window: int | None = None) -> dict[str, str | int]:
    """One entry readable by both Anthropic and OpenAI SDKs (each ignores the other's fields)."""
    owner = model_id.split("/", 1)[0] if "/" in model_id else "stackbilt"
    extra: dict[str, str | int] = {"context_window": context_window} if context_window else {}
    return {
        **extra,
        "type": "model",
        "id": model_id,
        "display_name": model_id,
        "created_at": EPOCH,
        "object": "model",
        "created": CREATED,
        "owned_by": owner,
    }


def _known_models() -> list[str]:
    st = state()
    return sorted(set(models_of("anthropic")) | set(alias_table(st.config)))


def _bridge_ready(env: Mapping[str, str]) -> bool:
    """The CLI bridge is reachable when its binary is found."""
    try:
        find_binary(env)
    except GatewayError:
        return False
    return True


async def _reachable_models() -> dict[str, int | None]:
    """Every model the gateway can reach now, with its context window when the registry knows it:
    the Anthropic catalogue and aliases, plus ``provider/model`` for each configured provider (a
    key, or usable Vertex AI credentials and project)."""
    st = state()
    registry = st.router.registry.models
    found: dict[str, int | None] = {}
    for model in _known_models():
        info = registry.get(f"anthropic/{model}")
        found[model] = info.context_window if info is not None else None
    configured: dict[str, bool] = {}
    for key, info in registry.items():
        name = key.partition("/")[0]
        spec = builtin_providers().get(name)
        if spec is None or name == "anthropic":
            continue
        if name not in configured:
            if spec.bridge is not None:
                configured[name] = _bridge_ready(st.env)
            elif spec.auth == "google-oauth":
                configured[name] = (
                    name in st.providers.tokens
                    and name not in st.providers.problems
                    and "{project}" not in st.providers.base_urls[name]
                )
            else:
                configured[name] = bool(await st.keys.aget(spec))
        if configured[name]:
            found[key] = info.context_window
    return found


@bp.get("/v1/models")
async def list_models() -> Response:
    reachable = await _reachable_models()
    ids = sorted(reachable)
    raw_limit = request.args.get("limit", "20")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        raise InvalidRequest("limit must be an integer from 1 to 1000", param="limit")
    after = request.args.get("after_id")
    if after:
        ids = ids[ids.index(after) + 1 :] if after in ids else []
    page = ids[: int(raw_limit)]
    return jsonify(
        {
            "object": "list",
            "data": [_model_info(m, reachable[m]) for m in page],
            "has_more": len(ids) > len(page),
            "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None,
        }
    )


@bp.get("/v1/models/<path:model_id>")
async def get_model(model_id: str) -> Response:
    reachable = await _reachable_models()
    if model_id not in reachable:
        raise NotFound(f"model {model_id!r} not found")
    return jsonify(_model_info(model_id, reachable[model_id]))
