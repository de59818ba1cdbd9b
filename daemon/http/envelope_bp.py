"""``POST /v1/chat``: the simple envelope for scripts and services.

Request ``{"client_id", "model" (an alias: ``aliases`` in the config, or a shipped one),
"messages": [{"role", "content"}], "metadata": {"request_id"}, "stream", "max_tokens"}``;
response ``{"id", "model", "provider", "usage": {"prompt_tokens", "completion_tokens",
"total_tokens"}, "message": {"role", "content"}}``; ``"stream": true`` sends the content as SSE
(``event: delta`` with ``{"content"}``, then ``event: done`` with the whole response, or
``event: error``). Errors are ``{"error": {"type", "message"}}``; a malformed envelope is a 400
naming the field. Owns only the conversion: the envelope becomes a Chat Completions request
served by ``pipeline.serve`` (the same routing, limits, budgets, policies and telemetry), the
envelope's ``client_id`` narrowing the client like ``x-stackbilt-client``.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any

from quart import Blueprint, Response, g, request

from ..compose.state import state
from ..core.context import RequestRecord
from ..core.errors import (
    AuthenticationFailed,
    GatewayError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    UpstreamError,
)
from ..execute.outcome import Outcome
from ..governance.directory import CLIENT_HEADER
from ..governance.errors import BudgetExceeded, PolicyRefused, PromptTooLarge
from ..pipeline import parse_json_body, serve
from ..upstream.targets import alias_table

bp = Blueprint("envelope", __name__)
PATH = "/v1/chat"
ROLES = ("system", "user", "assistant")


def owns(path: str) -> bool:
    return path == PATH


def error_type(err: GatewayError) -> str:
    if isinstance(err, BudgetExceeded):
        return "budget_exceeded"
    if isinstance(err, PolicyRefused | PromptTooLarge):
        return "policy_violation"
    if isinstance(err, RateLimited):
        return "rate_limit_exceeded"
    if isinstance(err, UpstreamError):
        return "upstream_error"
    if isinstance(err, InvalidRequest):
        return "invalid_request"
    if isinstance(err, AuthenticationFailed):
        return "authentication_error"
    if isinstance(err, PermissionDenied):
        return "permission_denied"
    if isinstance(err, NotFound):
        return "not_found"
    return "internal_error"


def error_body(err: GatewayError) -> dict[str, Any]:
    return {"error": {"type": error_type(err), "message": err.message}}


def error_response(err: GatewayError, request_id: str | None) -> Response:
    headers = {"x-stackbilt-request-id": request_id} if request_id else {}
    if err.retry_after is not None and err.retry_after >= 0:
        headers["retry-after"] = str(math.ceil(err.retry_after))
    elif isinstance(err, RateLimited):
        headers["retry-after"] = "1"
    status = 503 if err.status == 529 else err.status
    return Response(
        json.dumps(error_body(err)), status=status, headers=headers, content_type="application/json"
    )


def parse_envelope(body: dict[str, Any], aliases: dict[str, str]) -> dict[str, Any]:
    """Validate the envelope; return the Chat Completions body it becomes (400 naming the field)."""
    model = body.get("model")
    if model is None:
        raise InvalidRequest("model is required (an alias from the config's aliases)", param="model")
    if not isinstance(model, str):
        raise InvalidRequest("model must be a string (an alias)", param="model")
    if model not in aliases:
        raise InvalidRequest(
            f"model: unknown alias {model[:80]!r} (known: {', '.join(sorted(aliases))})", param="model"
        )
    client_id = body.get("client_id")
    if client_id is not None and not isinstance(client_id, str):
        raise InvalidRequest("client_id must be a string", param="client_id")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages must be a non-empty list of {role, content}", param="messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise InvalidRequest(f"messages[{i}].role must be one of {', '.join(ROLES)}", param="messages")
        if not isinstance(message.get("content"), str):
            raise InvalidRequest(f"messages[{i}].content must be a string", param="messages")
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict):
        raise InvalidRequest("metadata must be an object", param="metadata")
    if not isinstance(metadata.get("request_id", ""), str):
        raise InvalidRequest("metadata.request_id must be a string", param="metadata.request_id")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidRequest("stream must be true or false", param="stream")
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise InvalidRequest("max_tokens must be a whole number >= 1", param="max_tokens")
    chat: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
        "stream": stream,
    }
    if stream:
        chat["stream_options"] = {"include_usage": True}
    if max_tokens is not None:
        chat["max_tokens"] = max_tokens
    return chat


def _usage(raw: object) -> dict[str, int]:
    u = raw if isinstance(raw, dict) else {}
    prompt, completion = int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _answer(rid: str, record: RequestRecord, usage: dict[str, int], content: str) -> dict[str, Any]:
    return {
        "id": rid,
        "model": record.upstream_model,
        "provider": record.provider,
        "usage": usage,
        "message": {"role": "assistant", "content": content},
    }


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _stream(chat: AsyncIterator[bytes], rid: str, record: RequestRecord) -> AsyncIterator[bytes]:
    """The Chat Completions SSE stream as envelope events (content deltas, then the answer)."""
    buffer, usage, ended = b"", _usage(None), False
    content: list[str] = []
    try:
        async for chunk in chat:
            buffer += chunk
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                for line in block.split(b"\n"):
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        ended = True
                        yield _sse("done", _answer(rid, record, usage, "".join(content)))
                        continue
                    event = json.loads(data)
                    if "error" in event:
                        err = event["error"] if isinstance(event["error"], dict) else {}
                        ended = True
                        yield _sse(
                            "error",
                            {"error": {"type": "upstream_error", "message": str(err.get("message", ""))}},
                        )
                        continue
                    if event.get("usage"):
                        usage = _usage(event["usage"])
                    for choice in event.get("choices") or ():
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            content.append(text)
                            yield _sse("delta", {"content": text})
        if not ended:
            yield _sse("done", _answer(rid, record, usage, "".join(content)))
    finally:
        aclose = getattr(chat, "aclose", None)
        if aclose is not None:
            await aclose()


@bp.post(PATH)
async def chat() -> Response:
    st = state()
    data = await request.get_data(cache=False, as_text=False)
    raw = data if isinstance(data, bytes) else data.encode()
    body = parse_json_body(raw)
    chat_body = parse_envelope(body, alias_table(st.config))
    metadata = body.get("metadata") or {}
    rid = metadata.get("request_id") or g.request_id
    headers = [(k, v) for k, v in request.headers.items() if k.lower() != CLIENT_HEADER]
    if body.get("client_id") is not None:
        headers.append((CLIENT_HEADER, body["client_id"]))
    record = RequestRecord(g.request_id, "chat")
    outcome: Outcome = await serve(
        st,
        protocol="chat",
        raw=json.dumps(chat_body).encode(),
        query="",
        headers=headers,
        credential=g.client_credential,
        record=record,
    )
    out_headers = {"x-stackbilt-request-id": g.request_id}
    if outcome.error is not None:
        return error_response(outcome.error, g.request_id)
    if outcome.stream is not None:
        resp = Response(
            _stream(outcome.stream, rid, record),
            status=200,
            headers={**out_headers, "content-type": "text/event-stream", "cache-control": "no-cache"},
        )
        resp.timeout = None
        return resp
    answer = json.loads(outcome.body or b"{}")
    choices = answer.get("choices") or [{}]
    content = (choices[0].get("message") or {}).get("content") or ""
    result = _answer(rid, record, _usage(answer.get("usage")), content if isinstance(content, str) else "")
    return Response(json.dumps(result), status=200, headers=out_headers, content_type="application/json")
