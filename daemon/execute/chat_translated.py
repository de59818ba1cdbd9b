"""Serve an Anthropic Messages request from an OpenAI-compatible Chat Completions upstream.

IR → Chat request, Chat response/stream → IR → Anthropic response/SSE. The ``message_start``
event is sent only once the upstream has answered 200, so failures before that are ordinary
HTTP errors in Anthropic's shape; failures after it are the protocol's ``error`` event.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from ..adapters.anthropic_response import SSEWriter, render_response
from ..core.errors import GatewayError, UpstreamProtocolError
from ..core.ir import GatewayRequest, MessageDelta, StreamError
from ..providers.chat_request import build_chat_request
from ..providers.chat_response import ChatStreamDecoder, chat_error, parse_chat_response
from ..providers.sse import SSEParser
from ..providers.upstream import UpstreamClient, UpstreamResponse
from ..routing.resolve import Target
from .common import Outcome, RequestRecord, auth_headers, missing_key_error, require_base_url

MAX_ERROR_BODY = 1024 * 1024
MAX_JSON_BODY = 64 * 1024 * 1024
USER_AGENT = "stackbilt-llm-gateway/0.1"
SSE_HEADERS = [
    ("content-type", "text/event-stream; charset=utf-8"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
]


async def translated(
    client: UpstreamClient,
    *,
    target: Target,
    request: GatewayRequest,
    provider_key: str | None,
    record: RequestRecord,
) -> Outcome:
    spec = target.spec
    if provider_key is None and not spec.key_optional:
        raise missing_key_error(spec)
    base = require_base_url(target)
    body = build_chat_request(request, model=target.model, spec=spec)
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream" if request.stream else "application/json",
        "user-agent": USER_AGENT,
        **dict(auth_headers(spec, provider_key)),
    }
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    resp = await client.open(
        "POST", f"{base}/chat/completions", headers=headers, content=payload, provider=spec.name
    )
    record.mark_first_byte()
    if resp.status >= 400:
        try:
            raw = await resp.read(MAX_ERROR_BODY)
        finally:
            await resp.aclose()
        raise chat_error(resp.status, raw, resp.headers, spec.name)
    if request.stream:
        return Outcome(200, list(SSE_HEADERS), stream=_stream(resp, request, record))
    try:
        raw = await resp.read(MAX_JSON_BODY)
    finally:
        await resp.aclose()
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise UpstreamProtocolError(f"{spec.name} returned invalid JSON", provider=spec.name) from exc
    if isinstance(data, dict) and "error" in data:
        raise chat_error(502, raw, resp.headers, spec.name)
    result = parse_chat_response(data, model=request.model)
    record.usage = result.usage
    record.finish(200)
    return Outcome(
        200, [("content-type", "application/json")], body=json.dumps(render_response(result)).encode()
    )


async def _stream(
    resp: UpstreamResponse, request: GatewayRequest, record: RequestRecord
) -> AsyncIterator[bytes]:
    decoder = ChatStreamDecoder(model=request.model, provider=record.provider)
    writer = SSEWriter()
    parser = SSEParser()
    error: GatewayError | None = None
    finished = False
    try:
        yield b"".join(writer.render(ev) for ev in decoder.start())
        async for chunk in resp.iter_raw():
            out: list[bytes] = []
            for sse in parser.feed(chunk):
                data = sse.data.strip()
                if data == "[DONE]":
                    finished = True
                    break
                try:
                    payload = json.loads(data)
                except ValueError as exc:
                    raise UpstreamProtocolError(
                        f"{record.provider} sent an unreadable stream event", provider=record.provider
                    ) from exc
                for ev in decoder.feed(payload):
                    if isinstance(ev, StreamError):
                        raise ev.error
                    out.append(writer.render(ev))
            if out:
                yield b"".join(out)
            if finished:
                break
        if not finished and not decoder.saw_finish:
            raise UpstreamProtocolError(
                f"{record.provider} closed the stream before it finished", provider=record.provider
            )
        events = decoder.finish()
        for ev in events:
            if isinstance(ev, MessageDelta):
                record.usage = ev.usage
        yield b"".join(writer.render(ev) for ev in events)
        record.finish(200)
    except GatewayError as exc:
        error = exc
    except (GeneratorExit, asyncio.CancelledError):
        record.error = "client disconnected"
        record.finish(499)
        raise
    finally:
        await resp.aclose()
    if error is not None:
        record.finish(200, error)
        yield writer.render(StreamError(error))
