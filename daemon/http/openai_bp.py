"""OpenAI endpoints: ``/v1/chat/completions`` (Cursor, Continue, Aider, the OpenAI SDK) and
``/v1/responses`` (Codex). Thin: read the body, hand it to the pipeline."""

from __future__ import annotations

from quart import Blueprint, Response, g, request

from ..compose.state import state
from ..core.context import RequestRecord
from ..pipeline import serve
from .respond import outcome_response

bp = Blueprint("openai", __name__)


async def _serve(protocol: str) -> Response:
    data = await request.get_data(cache=False, as_text=False)
    raw = data if isinstance(data, bytes) else data.encode()
    outcome = await serve(
        state(),
        protocol=protocol,
        raw=raw,
        query=request.query_string.decode("latin-1"),
        headers=list(request.headers.items()),
        credential=g.client_credential,
        record=RequestRecord(g.request_id, protocol),
    )
    return outcome_response(outcome, g.request_id)


@bp.post("/v1/chat/completions")
async def chat_completions() -> Response:
    return await _serve("chat")


@bp.post("/v1/responses")
async def responses() -> Response:
    return await _serve("responses")
