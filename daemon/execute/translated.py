"""Serve a request from an upstream that speaks another protocol than the client.

IR → the provider's translation wire (``wires.registry.translation_wire``: its codec, plus the
wire's prompt-cache hints), upstream response/stream → IR → the client's protocol (through the
client wire's renderer). ``fetch`` is the single non-stream attempt that the compaction endpoint
shares. The stream's first event is sent only once the upstream answered 200, so failures before
that are ordinary HTTP errors in the client's shape (an error body that is not JSON is described
by its status and a short excerpt, ``execute.error_body``); failures after it are the client
protocol's in-stream error (``record.stream_error``): the upstream's own, a drop, the response's
total time or size (``upstream.client``), an event past ``MAX_SSE_EVENT_BYTES`` or one tool call's
arguments past ``MAX_TOOL_ARGUMENT_CHARS``. Never finishes the record: the pipeline does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

from ..core import jsonfast
from ..core.config import MAX_SSE_EVENT_BYTES, MAX_TOOL_ARGUMENT_CHARS
from ..core.context import RequestRecord
from ..core.errors import GatewayError, UpstreamProtocolError
from ..core.ir import (
    GatewayRequest,
    GatewayResponse,
    MessageDelta,
    StreamError,
    StreamEvent,
    TextDelta,
    ToolArgsDelta,
)
from ..upstream.client import UpstreamClient, UpstreamResponse
from ..upstream.credentials import target_auth
from ..upstream.targets import Target
from ..wires.base import SSE_HEADERS, ClientRenderer, StreamDecoder, StreamWriter, UpstreamCodec, Wire
from ..wires.cache_hints import CacheHints
from ..wires.registry import translation_wire, upstream_route
from ..wires.sse import SSEParser, SSETooLarge
from .error_body import upstream_error
from .outcome import Outcome

MAX_ERROR_BODY = 1024 * 1024
MAX_JSON_BODY = 64 * 1024 * 1024


async def _open(
    client: UpstreamClient,
    *,
    target: Target,
    request: GatewayRequest,
    provider_key: str | None,
    record: RequestRecord,
    max_output_tokens: int | None,
    cache: CacheHints | None,
) -> tuple[Wire, UpstreamCodec, UpstreamResponse]:
    """Send the translated request; an upstream error status is raised in the hierarchy."""
    spec = target.spec
    auth = await target_auth(target, provider_key)
    wire, codec = translation_wire(spec)
    url = target.url(*upstream_route(wire, target.model, stream=request.stream))
    body = codec.build(request, model=target.model, spec=spec, max_output_tokens=max_output_tokens)
    wire.cache_hints(body, spec, replace(cache, rolling=True) if cache else None)
    headers = {**codec.headers(stream=request.stream), **dict(auth)}
    resp = await client.open("POST", url, headers=headers, content=jsonfast.dumps(body), provider=spec.name)
    record.mark_first_byte()
    if resp.status >= 400:
        try:
            raw = await resp.read(MAX_ERROR_BODY)
        finally:
            await resp.aclose()
        record.status = resp.status
        raise upstream_error(wire, resp.status, raw, resp.headers, spec.name)
    return wire, codec, resp


async def fetch(
    client: UpstreamClient,
    *,
    target: Target,
    request: GatewayRequest,
    provider_key: str | None,
    record: RequestRecord,
    max_output_tokens: int | None = None,
    cache: CacheHints | None = None,
) -> GatewayResponse:
    """One non-stream translated attempt: the upstream's whole answer in the IR (usage recorded)."""
    spec = target.spec
    wire, codec, resp = await _open(
        client,
        target=target,
        request=replace(request, stream=False) if request.stream else request,
        provider_key=provider_key,
        record=record,
        max_output_tokens=max_output_tokens,
        cache=cache,
    )
    try:
        raw = await resp.read(MAX_JSON_BODY)
    finally:
        await resp.aclose()
    try:
        data = jsonfast.loads(raw)
    except ValueError as exc:
        raise UpstreamProtocolError(f"{spec.name} returned invalid JSON", provider=spec.name) from exc
    if not isinstance(data, dict) or data.get("error"):
        raise wire.upstream_error(502, raw, resp.headers, spec.name)
    result = codec.parse(data, model=request.model)
    record.usage = result.usage
    record.stop_reason = result.stop_reason
    record.status = 200
    return result


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
    if not request.stream:
        result = await fetch(
            client,
            target=target,
            request=request,
            provider_key=provider_key,
            record=record,
            max_output_tokens=max_output_tokens,
            cache=cache,
        )
        out = jsonfast.dumps(renderer.response(result, request))
        return Outcome(200, [("content-type", "application/json")], body=out)
    _, codec, resp = await _open(
        client,
        target=target,
        request=request,
        provider_key=provider_key,
        record=record,
        max_output_tokens=max_output_tokens,
        cache=cache,
    )
    record.status = 200
    decoder = codec.decoder(model=request.model, provider=target.spec.name)
    return Outcome(200, list(SSE_HEADERS), stream=_stream(resp, decoder, renderer, request, record))


def _as_gateway(exc: Exception) -> GatewayError:
    return exc if isinstance(exc, GatewayError) else UpstreamProtocolError(str(exc))


def _emit(
    events: list[StreamEvent], writer: StreamWriter, record: RequestRecord, tool_chars: dict[int, int]
) -> bytes:
    """Render IR events; an in-band StreamError is raised so the stream ends with an error, and
    so is a tool call whose arguments grew past the cap (``tool_chars``: per block, so far)."""
    if len(events) == 1 and type(events[0]) is TextDelta:  # the bulk of a stream
        return writer.render(events[0])
    out: list[bytes] = []
    for ev in events:
        if isinstance(ev, StreamError):
            raise _as_gateway(ev.error)
        if isinstance(ev, MessageDelta):
            record.usage = ev.usage
            record.stop_reason = ev.stop_reason or record.stop_reason
        elif isinstance(ev, ToolArgsDelta):
            size = tool_chars[ev.index] = tool_chars.get(ev.index, 0) + len(ev.partial_json)
            if size > MAX_TOOL_ARGUMENT_CHARS:
                raise UpstreamProtocolError(
                    f"{record.provider} sent tool-call arguments longer than "
                    f"{MAX_TOOL_ARGUMENT_CHARS} characters",
                    provider=record.provider,
                )
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
    tools: dict[int, int] = {}
    try:
        yield _emit(decoder.start(), writer, record, tools)
        async for chunk in resp.iter_raw():
            out: list[bytes] = []
            for sse in parser.feed(chunk):
                out.append(_emit(decoder.feed(sse), writer, record, tools))
                if decoder.done:
                    break
            if out:
                yield b"".join(out)
            if decoder.done:
                break
        if not decoder.done:
            for sse in parser.flush():
                yield _emit(decoder.feed(sse), writer, record, tools)
        yield _emit(decoder.finish(), writer, record, tools) + writer.close()
    except SSETooLarge:
        error = UpstreamProtocolError(
            f"{record.provider} sent a stream event larger than {MAX_SSE_EVENT_BYTES} bytes",
            provider=record.provider,
        )
    except GatewayError as exc:
        error = exc
    finally:
        await resp.aclose()
    if error is not None:
        record.stream_error = error
        yield writer.render(StreamError(error))
