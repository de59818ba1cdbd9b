"""What a wire is: the one interface every wire package implements, and the protocols behind it.

A ``Wire`` bundles everything the gateway knows about one protocol, client side and upstream side:
parsing a client request into the IR, rendering IR results and errors for a client, the
pass-through edits and usage tap for relaying the wire's own upstream bytes, mapping the wire's
upstream error responses into the error hierarchy (``retry-after`` included), prompt-cache hints,
and — for wires the gateway can translate into — an ``UpstreamCodec``. The executors, pipeline
and HTTP layer use only this interface (through ``wires.registry``); adding a protocol is adding a
package with a ``wire.py``. Pure declarations; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..core import jsonfast
from ..core.errors import GatewayError, UpstreamError, UpstreamProtocolError
from ..core.ir import GatewayRequest, GatewayResponse, StreamEvent, Usage
from ..core.providers import ProviderSpec, WireName
from .cache_hints import CacheHints
from .sse import SSEEvent

JSON = dict[str, Any]

SSE_HEADERS: list[tuple[str, str]] = [
    ("content-type", "text/event-stream; charset=utf-8"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
]


class StreamWriter(Protocol):
    """IR stream events → the client protocol's bytes."""

    def render(self, event: StreamEvent) -> bytes: ...

    def close(self) -> bytes:
        """Bytes after the last event of a successful stream (e.g. Chat's ``[DONE]``)."""
        ...


class _Renders(Protocol):
    def render(self, event: StreamEvent) -> bytes: ...


class OwnClose:
    """A stream writer whose wire ends its own stream on ``MessageStop`` (Anthropic's
    ``message_stop``, Chat's ``[DONE]``, Responses' ``response.completed``): nothing after it."""

    def __init__(self, inner: _Renders) -> None:
        self._inner = inner

    def render(self, event: StreamEvent) -> bytes:
        return self._inner.render(event)

    def close(self) -> bytes:
        return b""


class ClientRenderer(Protocol):
    """IR results → one client protocol: a whole response, a stream, an error."""

    @property
    def protocol(self) -> str: ...

    def response(self, resp: GatewayResponse, request: GatewayRequest) -> dict[str, Any]: ...

    def stream(self, request: GatewayRequest) -> StreamWriter: ...

    def error(self, err: GatewayError) -> tuple[int, dict[str, str], dict[str, Any]]: ...


class StreamDecoder(Protocol):
    """An upstream stream → IR events."""

    @property
    def done(self) -> bool:
        """True once the upstream sent its terminal marker (stop reading)."""
        ...

    def start(self) -> list[StreamEvent]: ...

    def feed(self, sse: SSEEvent) -> list[StreamEvent]: ...

    def finish(self) -> list[StreamEvent]:
        """Close the message; raises UpstreamProtocolError when the stream was cut short."""
        ...


class UpstreamCodec(Protocol):
    """How to speak a wire as the gateway's upstream when translating from another protocol."""

    def build(
        self, request: GatewayRequest, *, model: str, spec: ProviderSpec, max_output_tokens: int | None
    ) -> dict[str, Any]: ...

    def headers(self, *, stream: bool) -> dict[str, str]:
        """Content headers; the credential is ``upstream.credentials``'."""
        ...

    def parse(self, body: dict[str, Any], *, model: str) -> GatewayResponse: ...

    def decoder(self, *, model: str, provider: str) -> StreamDecoder: ...


class UsageTap(Protocol):
    """Observes relayed upstream bytes (pass-through) for usage, completion and failures."""

    usage: Usage
    finished: bool
    error: str | None

    def feed(self, chunk: bytes) -> None: ...

    def close(self) -> None: ...


ErrorShape = tuple[int, dict[str, str], Mapping[str, object]]


@dataclass(frozen=True, slots=True)
class Renderer:
    """A client protocol's ``ClientRenderer`` made of its wire's three rendering functions."""

    protocol: str
    render_response: Callable[[GatewayResponse, GatewayRequest], dict[str, Any]]
    make_writer: Callable[[GatewayRequest], _Renders]
    render_error: Callable[[GatewayError], ErrorShape]

    def response(self, resp: GatewayResponse, request: GatewayRequest) -> dict[str, Any]:
        return self.render_response(resp, request)

    def stream(self, request: GatewayRequest) -> StreamWriter:
        return OwnClose(self.make_writer(request))

    def error(self, err: GatewayError) -> tuple[int, dict[str, str], dict[str, Any]]:
        status, headers, body = self.render_error(err)
        return status, headers, dict(body)


def content_headers(*, stream: bool) -> dict[str, str]:
    """A translated upstream request's JSON content headers (the credential is added apart)."""
    return {
        "content-type": "application/json",
        "accept": "text/event-stream" if stream else "application/json",
    }


UpstreamErrorMapper = Callable[[int, bytes, Mapping[str, str], str], UpstreamError]


def _no_edit(body: JSON) -> bool:
    return False


def _no_effort_edit(body: JSON, level: str) -> bool:
    return False


def _no_reasoning_edit(body: JSON, keep: Callable[[int], bool]) -> bool:
    return False


def _no_hints(body: JSON, spec: ProviderSpec, hints: CacheHints) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Wire:
    """One protocol, both sides. See the module docstring."""

    name: WireName
    # Client side.
    parse_request: Callable[[JSON], GatewayRequest]
    renderer: ClientRenderer
    # Upstream side: the endpoint under a provider's base URL, error responses, usage.
    upstream_path: str
    upstream_error: UpstreamErrorMapper
    make_tap: Callable[[], UsageTap]
    body_usage: Callable[[JSON, Usage], None]
    # Pass-through: deliberate body edits (True when changed) and the output-limit fields,
    # in order of preference.
    edit: Callable[[JSON], bool] = field(default=_no_edit)
    # Drop reasoning items another model produced: (body, keep(client position)) -> changed.
    # Only where a wire carries model-bound reasoning back (Responses' encrypted items).
    drop_reasoning: Callable[[JSON, Callable[[int], bool]], bool] = field(default=_no_reasoning_edit)
    # Lower the client's reasoning effort to a level: (body, level) -> changed (routing.effort).
    set_effort: Callable[[JSON, str], bool] = field(default=_no_effort_edit)
    max_tokens_fields: tuple[str, ...] = ("max_tokens",)
    # Prompt-cache hints for a body the client left without any (True when changed).
    add_cache_hints: Callable[[JSON, ProviderSpec, CacheHints], bool] = field(default=_no_hints)
    # Present when the gateway can translate other protocols into this one.
    codec: UpstreamCodec | None = None

    def cache_hints(self, body: JSON, spec: ProviderSpec, hints: CacheHints | None) -> bool:
        """Apply ``hints`` (None or markers off: nothing); True when the body changed."""
        if hints is None or not hints.prefix_markers:
            return False
        return self.add_cache_hints(body, spec, hints)


def json_event(sse: SSEEvent, provider: str) -> dict[str, Any]:
    """An upstream stream event's JSON object; anything else is a protocol error."""
    try:
        data = jsonfast.loads(sse.data)
    except ValueError as exc:
        raise UpstreamProtocolError(f"{provider} sent an unreadable stream event", provider=provider) from exc
    if not isinstance(data, dict):
        raise UpstreamProtocolError(f"{provider} sent a non-object stream event", provider=provider)
    return data
