"""Faithful pass-through: the client's protocol is the upstream's own.

The client's body goes upstream unchanged except for deliberate edits (the model name when
routing changed it, the output limit when the plan clamps it, the wire's own edits — e.g.
gateway-signed thinking blocks never go to Anthropic — and prompt-cache hints the client did not
give itself). A body nothing was added to is forwarded byte for byte. Headers are kept in order
minus hop-by-hop and credentials (``execute.headers``); the credential is the configured provider
key or, when none is configured, the client's own (``upstream.credentials``). Upstream bytes are
relayed as they arrive, whole events at a time (a partial event waits for its end, at most
``MAX_SSE_EVENT_BYTES``), and fed on the side to the wire's usage tap. A stream cut on the way (the
upstream's total time or size, an oversized event, a drop, an early end) ends with the client
protocol's error event, never after the terminal event the tap saw. An upstream error that is the
wire's JSON error is relayed with its status, body and retry headers intact; any other body (an
HTML page, plain text, compressed bytes) is answered as the mapped error in the client's shape,
with the upstream status, a short excerpt and the retry headers. A success status whose body is
neither an event stream nor a JSON object (a broken proxy's HTML page with 200) is not relayed:
it is a 502 ``upstream_protocol`` error (the pipeline may fall back, then answers in the client's
shape). Either way it is mapped into the
hierarchy by the wire (``Wire.upstream_error``: ``retry-after``/``retry-after-ms`` reach the
breaker from there).

Never finishes the request record: it fills in the facts (status, usage, first byte, a stream's
error) and the pipeline finishes the record once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from ..core import jsonfast
from ..core.config import MAX_SSE_EVENT_BYTES
from ..core.context import RequestRecord
from ..core.errors import GatewayError, UpstreamProtocolError
from ..core.ir import GatewayRequest, StreamError
from ..storage.redact import redact
from ..upstream.client import UpstreamClient, UpstreamResponse
from ..upstream.credentials import ClientCredential, passthrough_auth
from ..upstream.targets import Target
from ..wires.base import StreamWriter, UsageTap, Wire
from ..wires.cache_hints import CacheHints
from .error_body import describe, is_wire_error, upstream_error
from .headers import forward_headers, relay_response_headers
from .outcome import Outcome

MAX_ERROR_BODY = 1024 * 1024
MAX_JSON_BODY = 64 * 1024 * 1024


def _clamp(body: dict[str, Any], wire: Wire, limit: int | None) -> bool:
    if limit is None:
        return False
    for name in wire.max_tokens_fields:
        value = body.get(name)
        if isinstance(value, int) and value > limit:
            body[name] = limit
            return True
        if value is not None:
            return False
    body[wire.max_tokens_fields[0]] = limit
    return True


def upstream_body(
    raw: bytes,
    body: dict[str, Any],
    target: Target,
    wire: Wire,
    max_tokens: int | None = None,
    cache: CacheHints | None = None,
    keep_reasoning: Callable[[int], bool] | None = None,
    effort: str | None = None,
) -> bytes:
    """The bytes to send: the client's, re-serialised only when an edit is needed.

    ``body`` is the parsed ``raw`` and belongs to this call: edits are made in it. A caller that
    tries several candidates gives each its own (``pipeline``).
    """
    edited = _clamp(body, wire, max_tokens)
    if body.get("model") != target.model:
        body["model"] = target.model
        edited = True
    if wire.edit(body):
        edited = True
    if keep_reasoning is not None and wire.drop_reasoning(body, keep_reasoning):
        edited = True
    if effort is not None and wire.set_effort(body, effort):
        edited = True
    if wire.cache_hints(body, target.spec, cache):
        edited = True
    if not edited:
        return raw
    return jsonfast.dumps(body)


def _redacted(body: bytes) -> bytes:
    """An error body with secrets the upstream echoed (a prompt's, a provider key) masked."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    clean = redact(text)
    return body if clean == text else clean.encode("utf-8")


def _retry_header(name: str) -> bool:
    """Upstream headers a client (or its SDK's retry logic) reads on an error."""
    low = name.lower()
    return low.startswith(_RETRY_PREFIXES) or low in ("request-id", "x-request-id")


_RETRY_PREFIXES = ("retry-after", "x-ratelimit-", "anthropic-ratelimit-")


async def relay_error(resp: UpstreamResponse, target: Target, wire: Wire, record: RequestRecord) -> Outcome:
    """An upstream error response: relayed intact when it is the wire's JSON error, else answered
    as the mapped error in the client's shape (status and retry headers kept); mapped into the
    hierarchy either way (the wire's rules)."""
    try:
        body = await resp.read(MAX_ERROR_BODY)
    finally:
        await resp.aclose()
    body = _redacted(body)
    record.status = resp.status
    headers = relay_response_headers(resp.headers.multi_items())
    if is_wire_error(body):
        mapped = wire.upstream_error(resp.status, body, resp.headers, target.spec.name)
        return Outcome(resp.status, headers, body=body, error=mapped)
    mapped = upstream_error(wire, resp.status, body, resp.headers, target.spec.name)
    _, extra, payload = wire.renderer.error(mapped)
    kept = [(name, value) for name, value in headers if _retry_header(name)]
    names = {name.lower() for name, _ in kept}
    kept += [(name, value) for name, value in extra.items() if name.lower() not in names]
    out = [("content-type", "application/json"), *kept]
    return Outcome(resp.status, out, body=jsonfast.dumps(payload), error=mapped)


@dataclass(slots=True)
class PassthroughCall:
    target: Target
    wire: Wire
    headers: list[tuple[str, str]]
    raw_body: bytes
    # The parsed body, owned by this call (edited in place when an edit is needed).
    body: dict[str, Any]
    query: str = ""
    path: str | None = None  # overrides wire.upstream_path (e.g. count_tokens)
    max_tokens: int | None = None  # clamp the output limit (routing to a smaller model)
    cache: CacheHints | None = None  # prompt-cache hints (None: add nothing)
    # Reasoning items to keep, by client position (None: keep all; see wires' drop_reasoning).
    keep_reasoning: Callable[[int], bool] | None = None
    # The lower reasoning effort routing serves this request at (None: as the client asked).
    effort: str | None = None


async def passthrough(
    client: UpstreamClient,
    call: PassthroughCall,
    *,
    provider_key: str | None,
    client_credential: ClientCredential | None,
    request: GatewayRequest | None,
    record: RequestRecord,
) -> Outcome:
    target, wire = call.target, call.wire
    url = target.url(call.path or wire.upstream_path, call.query)
    out_headers = forward_headers(call.headers)
    out_headers += passthrough_auth(target.spec, provider_key, client_credential)
    body = upstream_body(
        call.raw_body, call.body, target, wire, call.max_tokens, call.cache, call.keep_reasoning, call.effort
    )
    resp = await client.open("POST", url, headers=dict(out_headers), content=body, provider=target.spec.name)
    record.mark_first_byte()
    if resp.status >= 400:
        return await relay_error(resp, target, wire, record)
    record.status = resp.status
    resp_headers = relay_response_headers(resp.headers.multi_items())
    if resp.headers.get("content-type", "").startswith("text/event-stream"):
        writer = wire.renderer.stream(request) if request is not None else None
        return Outcome(resp.status, resp_headers, stream=_relay(resp, wire.make_tap(), writer, record))
    try:
        data = await resp.read(MAX_JSON_BODY)
    finally:
        await resp.aclose()
    try:
        parsed = jsonfast.loads(data)
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        # A success status with a body the client cannot read as its protocol's answer (a broken
        # proxy's HTML page, plain text, garbage): never relayed as if it were one.
        raise _not_an_answer(resp, data, target.spec.name)
    wire.body_usage(parsed, record.usage)
    record.stop_reason = body_stop_reason(parsed)
    return Outcome(resp.status, resp_headers, body=data)


def _first(items: object) -> dict[str, Any]:
    head = items[0] if isinstance(items, list) and items else None
    return head if isinstance(head, dict) else {}


def body_stop_reason(body: dict[str, Any]) -> str | None:
    """Why a whole (non-stream) answer stopped, in its wire's words: Anthropic's ``stop_reason``,
    Chat's first choice's ``finish_reason``, a Responses answer's incomplete reason or status,
    Gemini's first candidate's ``finishReason``; None when it says nothing."""
    details = body.get("incomplete_details")
    for value in (
        body.get("stop_reason"),
        _first(body.get("choices")).get("finish_reason"),
        details.get("reason") if isinstance(details, dict) else None,
        body.get("status") if body.get("object") == "response" else None,
        _first(body.get("candidates")).get("finishReason"),
    ):
        if isinstance(value, str) and value:
            return value
    return None


def _not_an_answer(resp: UpstreamResponse, data: bytes, provider: str) -> UpstreamProtocolError:
    """A 2xx answer whose body is neither an event stream nor a JSON object: 502 upstream_protocol
    with what came instead (content type and a short, redacted excerpt)."""
    text = describe(resp.status, _redacted(data), resp.headers, provider)
    return UpstreamProtocolError(
        text.replace("non-JSON body", "body that is not its answer", 1), provider=provider
    )


# A chunk ending like this ends with a whole event (the usual chunk: relayed as it is).
_EVENT_END = (b"\n\n", b"\r\n\r\n")


def _last_event_end(data: bytes) -> int:
    """Where the last complete event in ``data`` ends (two line ends in a row), 0 if none."""
    end = max(data.rfind(b"\n\n"), data.rfind(b"\r\r"), data.rfind(b"\n\r"))
    if end < 0:
        return 0
    end += 2
    if data[end - 1 : end] == b"\r" and data[end : end + 1] == b"\n":
        end += 1  # the CRLF's LF
    return end


def _too_large(record: RequestRecord) -> UpstreamProtocolError:
    return UpstreamProtocolError(
        f"{record.provider} sent a stream event larger than {MAX_SSE_EVENT_BYTES} bytes",
        provider=record.provider,
    )


async def _relay(
    resp: UpstreamResponse, tap: UsageTap, writer: StreamWriter | None, record: RequestRecord
) -> AsyncIterator[bytes]:
    error: GatewayError | None = None
    at_boundary = True
    held: list[bytes] = []  # the partial event after the last whole one: relayed once it ends
    held_size = 0
    try:
        async for chunk in resp.iter_raw():
            try:
                tap.feed(chunk)
            except ValueError:
                pass  # the tap never breaks the relay
            if not held and chunk.endswith(_EVENT_END):
                yield chunk
                continue
            tail = held[-1][-3:] if held else b""  # an event end may start in the held bytes
            cut = _last_event_end(tail + chunk) - len(tail)
            if cut <= 0:
                held.append(chunk)
                held_size += len(chunk)
                if held_size > MAX_SSE_EVENT_BYTES:
                    raise _too_large(record)
                continue
            held.append(chunk[:cut])
            yield b"".join(held)
            rest = chunk[cut:]
            held, held_size = ([rest], len(rest)) if rest else ([], 0)
        if held:  # the stream ended inside an event: what came is relayed, as it came
            last = b"".join(held)
            held = []
            at_boundary = last.endswith(_EVENT_END)
            yield last
        tap.close()
        if not tap.finished and tap.error is None:
            error = UpstreamProtocolError(
                f"the {record.provider} stream ended before its final event", provider=record.provider
            )
    except GatewayError as exc:
        error = exc
    except (GeneratorExit, asyncio.CancelledError):
        raise
    finally:
        await resp.aclose()
        record.usage.copy_from(tap.usage)
        record.stop_reason = getattr(tap, "stop_reason", None)
        if tap.error and error is None:
            record.error = tap.error
        if error is not None and (tap.finished or tap.error is not None):
            # The client already has the stream's end: the failure is noted, nothing appended.
            record.error = f"after the stream's final event: {error.kind}: {error.message}"
            error = None
        record.stream_error = error
    if error is not None and writer is not None:
        yield (b"" if at_boundary else b"\n\n") + writer.render(StreamError(error))
