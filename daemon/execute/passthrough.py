"""Faithful pass-through: the client's protocol is the upstream's own.

The client's body goes upstream unchanged except for deliberate edits (the model name when
routing changed it, the wire's own edits, e.g. gateway-signed thinking blocks never go to
Anthropic, and prompt-cache hints the client did not give itself: ``cache.prefix``). A body
nothing was added to is forwarded byte for byte. Headers are kept in order minus hop-by-hop
and credentials; the credential is the configured provider key or, when none is configured,
the client's own credential (subscription logins). Upstream bytes are relayed as they arrive
and parsed on the side for usage; upstream errors are relayed with their status, body and retry
headers intact.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..core import jsonfast
from ..core.errors import (
    AuthenticationFailed,
    GatewayError,
    UpstreamProtocolError,
    from_upstream_status,
)
from ..core.ir import GatewayRequest, StreamError, Usage
from ..core.providers import ProviderSpec
from ..upstream.client import UpstreamClient, UpstreamResponse
from ..upstream.targets import Target
from ..wires.anthropic.passthrough import anthropic_body_usage, strip_gateway_thinking
from ..wires.cache_hints import CacheHints, apply_cache_hints
from ..wires.renderers import ClientRenderer
from ..wires.usage_taps import (
    AnthropicUsageTap,
    ChatUsageTap,
    ResponsesUsageTap,
    usage_from_chat,
    usage_from_responses,
)
from .common import (
    ClientCredential,
    Outcome,
    RequestRecord,
    auth_headers,
    forward_headers,
    missing_key_error,
    relay_response_headers,
    require_base_url,
)

MAX_ERROR_BODY = 1024 * 1024
MAX_JSON_BODY = 64 * 1024 * 1024


class Tap(Protocol):
    usage: Usage
    finished: bool
    error: str | None

    def feed(self, chunk: bytes) -> None: ...

    def close(self) -> None: ...


def _no_edit(body: dict[str, Any]) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class PassWire:
    wire: str
    # Path under the provider's base URL.
    path: str
    make_tap: Callable[[], Tap]
    body_usage: Callable[[dict[str, Any], Usage], None]
    edit: Callable[[dict[str, Any]], bool] = field(default=_no_edit)
    # Body fields holding the output limit, in order of preference.
    max_tokens_fields: tuple[str, ...] = ("max_tokens",)


def _copy_usage(src: Usage, into: Usage) -> None:
    for name in Usage.__dataclass_fields__:
        setattr(into, name, getattr(src, name))


def _responses_body_usage(body: dict[str, Any], into: Usage) -> None:
    _copy_usage(usage_from_responses(body.get("usage")), into)


def _chat_body_usage(body: dict[str, Any], into: Usage) -> None:
    _copy_usage(usage_from_chat(body.get("usage")), into)


PASS_WIRES: dict[str, PassWire] = {
    "anthropic": PassWire(
        "anthropic", "/v1/messages", AnthropicUsageTap, anthropic_body_usage, strip_gateway_thinking
    ),
    "chat": PassWire(
        "chat",
        "/chat/completions",
        ChatUsageTap,
        _chat_body_usage,
        max_tokens_fields=("max_completion_tokens", "max_tokens"),
    ),
    "responses": PassWire(
        "responses",
        "/responses",
        ResponsesUsageTap,
        _responses_body_usage,
        max_tokens_fields=("max_output_tokens",),
    ),
}


def _clamp(parsed: dict[str, Any], wire: PassWire, limit: int | None) -> bool:
    if limit is None:
        return False
    for name in wire.max_tokens_fields:
        value = parsed.get(name)
        if isinstance(value, int) and value > limit:
            parsed[name] = limit
            return True
        if value is not None:
            return False
    parsed[wire.max_tokens_fields[0]] = limit
    return True


def upstream_body(
    raw: bytes,
    parsed: dict[str, Any],
    target: Target,
    wire: PassWire,
    max_tokens: int | None = None,
    cache: CacheHints | None = None,
) -> bytes:
    """The body to send: the client's bytes, re-serialised only when an edit is needed.

    ``cache``: prompt-cache hints (``cache.prefix``) — prefix markers for Anthropic when the
    client placed none, ``prompt_cache_key`` for OpenAI when the client set none.
    """
    edited = _clamp(parsed, wire, max_tokens)
    if parsed.get("model") != target.model:
        parsed["model"] = target.model
        edited = True
    if wire.edit(parsed):
        edited = True
    if apply_cache_hints(parsed, wire.wire, target.spec, cache):
        edited = True
    if not edited:
        return raw
    return jsonfast.dumps(parsed)


def credential_headers(
    spec: ProviderSpec, provider_key: str | None, client: ClientCredential | None
) -> list[tuple[str, str]]:
    if provider_key:
        return auth_headers(spec, provider_key)
    if client is not None:
        return [(client.header, client.value)]
    if spec.key_optional or spec.auth == "none":
        return []
    if spec.name == "anthropic":
        raise AuthenticationFailed(
            "no Anthropic API key is configured for the gateway and the client sent no Anthropic "
            "credential of its own. Run `stackbilt-gw keys set anthropic`, set ANTHROPIC_API_KEY in "
            "the daemon's environment, or let the client send its own login and authenticate to the "
            "gateway with the x-stackbilt-gateway-key header.",
            provider="anthropic",
        )
    raise missing_key_error(spec)


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def relay_error(resp: UpstreamResponse, target: Target, record: RequestRecord) -> Outcome:
    """Relay an upstream error response intact, and record it in the hierarchy's terms."""
    try:
        body = await resp.read(MAX_ERROR_BODY)
    finally:
        await resp.aclose()
    message, etype = body.decode("utf-8", "replace")[:500], None
    try:
        err = json.loads(body).get("error") or {}
        message, etype = str(err.get("message", message)), err.get("type")
    except (ValueError, AttributeError):
        pass
    mapped = from_upstream_status(
        resp.status,
        message,
        retry_after=_retry_after(resp.headers),
        provider=target.spec.name,
        upstream_type=etype,
    )
    record.status = resp.status
    return Outcome(resp.status, relay_response_headers(resp.headers.multi_items()), body=body, error=mapped)


@dataclass(slots=True)
class PassthroughCall:
    target: Target
    wire: PassWire
    headers: list[tuple[str, str]]
    raw_body: bytes
    parsed: dict[str, Any]
    query: str = ""
    path: str | None = None  # overrides wire.path (e.g. count_tokens)
    max_tokens: int | None = None  # clamp the output limit (routing to a smaller model)
    cache: CacheHints | None = None  # prompt-cache hints (None: add nothing)


async def passthrough(
    client: UpstreamClient,
    call: PassthroughCall,
    *,
    provider_key: str | None,
    client_credential: ClientCredential | None,
    renderer: ClientRenderer,
    request: GatewayRequest | None,
    record: RequestRecord,
) -> Outcome:
    target, wire = call.target, call.wire
    base = require_base_url(target)
    url = f"{base}{call.path or wire.path}" + (f"?{call.query}" if call.query else "")
    out_headers = forward_headers(call.headers)
    out_headers += credential_headers(target.spec, provider_key, client_credential)
    body = upstream_body(call.raw_body, call.parsed, target, wire, call.max_tokens, call.cache)
    resp = await client.open("POST", url, headers=dict(out_headers), content=body, provider=target.spec.name)
    record.mark_first_byte()
    if resp.status >= 400:
        return await relay_error(resp, target, record)
    resp_headers = relay_response_headers(resp.headers.multi_items())
    if resp.headers.get("content-type", "").startswith("text/event-stream"):
        error_writer = renderer.stream(request) if request is not None else None
        return Outcome(resp.status, resp_headers, stream=_relay(resp, wire.make_tap(), error_writer, record))
    try:
        data = await resp.read(MAX_JSON_BODY)
    finally:
        await resp.aclose()
    try:
        parsed = jsonfast.loads(data)
        if isinstance(parsed, dict):
            wire.body_usage(parsed, record.usage)
    except ValueError:
        pass
    return Outcome(resp.status, resp_headers, body=data)


async def _relay(
    resp: UpstreamResponse, tap: Tap, writer: Any, record: RequestRecord
) -> AsyncIterator[bytes]:
    error: GatewayError | None = None
    status = resp.status
    at_boundary = True
    try:
        async for chunk in resp.iter_raw():
            try:
                tap.feed(chunk)
            except ValueError:
                pass  # the tap never breaks the relay
            at_boundary = chunk.endswith((b"\n\n", b"\r\n\r\n"))
            yield chunk
        tap.close()
        if not tap.finished and tap.error is None:
            error = UpstreamProtocolError(
                f"the {record.provider} stream ended before its final event", provider=record.provider
            )
    except GatewayError as exc:
        error = exc
    except (GeneratorExit, asyncio.CancelledError):
        status, record.error = 499, "client disconnected"
        raise
    finally:
        await resp.aclose()
        _copy_usage(tap.usage, record.usage)
        if tap.error and error is None:
            record.error = tap.error
        record.finish(status, error)
    if error is not None and writer is not None:
        yield (b"" if at_boundary else b"\n\n") + writer.render(StreamError(error))
