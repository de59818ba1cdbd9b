"""IR responses → OpenAI Responses objects, plus the Responses error shape (protocols.md §2.5).

Owns ``render_responses_response`` (a buffered ``GatewayResponse`` → the Response object a
``stream: false`` client receives) and re-exports the streaming writer (``stream``)
and the error renderer (``openai_errors``, shared with Chat Completions). Item and usage shapes
live in ``objects``. No I/O.
"""

from __future__ import annotations

import json
from typing import Any

from ...core.errors import GatewayError
from ...core.ir import (
    JSON,
    GatewayRequest,
    GatewayResponse,
    OpaquePart,
    ReasoningPart,
    TextPart,
    ToolCallPart,
)
from ..openai_common import now
from ..openai_errors import render_openai_error
from .objects import (
    ToolView,
    item_id,
    message_item,
    outcome,
    reasoning_item,
    response_id,
    response_object,
)
from .stream import ResponsesSSEWriter

__all__ = ["ResponsesSSEWriter", "render_responses_error", "render_responses_response"]


def render_responses_error(err: GatewayError) -> tuple[int, dict[str, str], dict[str, object]]:
    """(HTTP status, extra headers, body) for an error answered to a Responses client."""
    return render_openai_error(err)


def _output(resp: GatewayResponse, request: GatewayRequest, resp_id: str) -> list[JSON]:
    tools = ToolView(request)
    out: list[JSON] = []
    texts: list[str] = []  # consecutive text parts become one message item

    def flush() -> None:
        if texts:
            out.append(message_item(item_id("msg", resp_id, len(out)), list(texts), done=True))
            texts.clear()

    for part in resp.parts:
        if isinstance(part, TextPart):
            if part.text.strip():
                texts.append(part.text)
            continue
        flush()
        index = len(out)
        if isinstance(part, ReasoningPart):
            out.append(
                reasoning_item(
                    item_id("rs", resp_id, index),
                    part.text,
                    signature=part.signature,
                    redacted=part.redacted,
                    replayable=part.origin == "anthropic",
                )
            )
        elif isinstance(part, ToolCallPart):
            custom = tools.is_custom(part.name)
            prefix = "ctc" if custom else "fc"
            if custom:
                text = part.arguments.get("input")
                payload = text if isinstance(text, str) else ""
            else:
                payload = json.dumps(part.arguments, ensure_ascii=False)
            out.append(tools.item(item_id(prefix, resp_id, index), part.id, part.name, payload, done=True))
        elif isinstance(part, OpaquePart) and part.protocol == "responses":
            out.append(part.data)
    flush()
    return out


def render_responses_response(
    resp: GatewayResponse, *, request: GatewayRequest, created_at: int | None = None
) -> dict[str, Any]:
    """IR response → a Response object; ``model`` is the client-requested name."""
    resp_id = response_id(resp.id)
    status, details = outcome(resp.stop_reason)
    return response_object(
        request,
        resp_id=resp_id,
        created_at=created_at if created_at is not None else now(),
        status=status,
        output=_output(resp, request, resp_id),
        usage=resp.usage,
        incomplete_details=details,
    )
