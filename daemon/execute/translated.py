"""Serve a request from an upstream that speaks another protocol than the client.

IR → upstream wire (through its codec, plus the prompt-cache hints of ``cache.prefix``),
upstream response/stream → IR → the client's protocol (through its renderer). The stream's
first event is sent only once the upstream answered 200, so failures before that are ordinary
HTTP errors in the client's shape; failures after it are the client protocol's in-stream error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

from ..core import jsonfast
from ..core.errors import GatewayError, UpstreamProtocolError
from ..core.ir import GatewayRequest, MessageDelta, StreamError, StreamEvent, TextDelta
from ..upstream.client import UpstreamClient, UpstreamResponse
from ..upstream.targets import Target
from ..wires.cache_hints import CacheHints, apply_cache_hints
from ..wires.codecs import CODECS, StreamDecoder
from ..wires.renderers import SSE_HEADERS, ClientRenderer, StreamWriter
from ..wires.sse import SSEParser
from .common import Outcome, RequestRecord, missing_key_error, require_base_url

MAX_ERROR_BODY = 1024 * 1024
MAX_JSON_BODY = 64 * 1024 * 1024


async def translated(
    client: UpstreamClient,
    *,
    target: Target,
    request: GatewayRequest,
    provider_key: str | None,
    renderer: ClientRenderer,
    record: RequestRecord,
    max_output_tokens: int | None = None,
    cache: CacheHints | None = None,
) -> Outcome:
    spec = target.spec
    if provider_key is None and not spec.key_optional and spec.auth != "none":
        raise missing_key_error(spec)
    codec = CODECS[spec.translation_wire]
    base = require_base_url(target)
    body = codec.build(request, model=target.model, spec=spec, max_output_tokens=max_output_tokens)
    apply_cache_hints(body, codec.wire, spec, replace(cache, rolling=True) if cache else None)
    payload = jsonfast.dumps(body)
    headers = codec.headers(spec, provider_key, stream=request.stream)
    resp = await client.open("POST", base + codec.path, headers=headers, content=payload, provider=spec.name)
    record.mark_first_byte()
    if resp.status >= 400:
        try:
            raw = await resp.read(MAX_ERROR_BODY)
        finally:
            await resp.aclose()
        raise codec.error(resp.status, raw, resp.headers, spec.name)
    if request.stream:
        decoder = codec.decoder(model=request.model, provider=spec.name)
        return Outcome(200, list(SSE_HEADERS), stream=_stream(resp, decoder, renderer, request, record))
    try:
        raw = await resp.read(MAX_JSON_BODY)
    finally:
        await resp.aclose()
    try:
        data = jsonfast.loads(raw)
    except ValueError as exc:
        raise UpstreamProtocolError(f"{spec.name} returned invalid JSON", provider=spec.name) from exc
    if not isinstance(data, dict) or "error" in data:
        raise codec.error(502, raw, resp.headers, spec.name)
    result = codec.parse(data, model=request.model)
    record.usage = result.usage
    out = jsonfast.dumps(renderer.response(result, request))
    return Outcome(200, [("content-type", "application/json")], body=out)


def _as_gateway(exc: Exception) -> GatewayError:
    return exc if isinstance(exc, GatewayError) else UpstreamProtocolError(str(exc))


def _emit(events: list[StreamEvent], writer: StreamWriter, record: RequestRecord) -> bytes:
    """Render IR events; an in-band StreamError is raised so the stream ends with an error."""
    if len(events) == 1 and type(events[0]) is TextDelta:  # the bulk of a stream
        return writer.render(events[0])
    out: list[bytes] = []
    for ev in events:
        if isinstance(ev, StreamError):
            raise _as_gateway(ev.error)
        if isinstance(ev, MessageDelta):
            record.usage = ev.usage
        out.append(writer.render(ev))
    return b"".join(out)


async def _stream(
    resp: UpstreamResponse,
    decoder: StreamDecoder,
    renderer: ClientRenderer,
    request: GatewayRequest,
    record: RequestRecord,
) -> AsyncIterator[bytes]:
    writer = renderer.stream(request)
    parser = SSEParser()
    error: GatewayError | None = None
    try:
        yield _emit(decoder.start(), writer, record)
        async for chunk in resp.iter_raw():
            out: list[bytes] = []
            for sse in parser.feed(chunk):
                out.append(_emit(decoder.feed(sse), writer, record))
                if decoder.done:
                    break
            if out:
                yield b"".join(out)
            if decoder.done:
                break
        if not decoder.done:
            for sse in parser.flush():
                yield _emit(decoder.feed(sse), writer, record)
        yield _emit(decoder.finish(), writer, record) + writer.close()
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
