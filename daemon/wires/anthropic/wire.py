"""The Anthropic Messages wire: its ``Wire`` (client renderer, upstream codec, pass-through pieces).

Ties the package's modules together for the registry: ``request`` parses a client request,
``response`` renders answers and streams, ``errors`` maps errors both ways, ``upstream`` /
``upstream_stream`` build and decode translated upstream calls, ``passthrough`` edits relayed
bodies, ``usage`` taps relayed streams, ``cache_hints`` adds prompt-cache markers.
"""

from __future__ import annotations

from typing import Any

from ...core.ir import GatewayRequest, GatewayResponse, StreamEvent
from ...core.providers import ProviderSpec
from ..base import Renderer, StreamDecoder, Wire, content_headers, json_event
from ..effort_edit import anthropic_effort
from ..sse import SSEEvent
from .cache_hints import add_cache_hints
from .errors import anthropic_error, render_error
from .passthrough import strip_gateway_thinking
from .request import parse_request
from .response import SSEWriter, render_response
from .upstream import build_anthropic_request, parse_anthropic_response
from .upstream_stream import AnthropicStreamDecoder
from .usage import AnthropicUsageTap, body_usage

API_VERSION = "2023-06-01"


class _Decoder:
    def __init__(self, model: str, provider: str) -> None:
        self._inner = AnthropicStreamDecoder(model=model, provider=provider)
        self._provider = provider

    @property
    def done(self) -> bool:
        return self._inner.done

    def start(self) -> list[StreamEvent]:
        return []  # Anthropic's own message_start opens the message

    def feed(self, sse: SSEEvent) -> list[StreamEvent]:
        return self._inner.feed(sse.event, json_event(sse, self._provider))

    def finish(self) -> list[StreamEvent]:
        return self._inner.finish()


class AnthropicCodec:
    def build(
        self, request: GatewayRequest, *, model: str, spec: ProviderSpec, max_output_tokens: int | None
    ) -> dict[str, Any]:
        return build_anthropic_request(request, model=model, max_output_tokens=max_output_tokens)

    def headers(self, *, stream: bool) -> dict[str, str]:
        return {**content_headers(stream=stream), "anthropic-version": API_VERSION}

    def parse(self, body: dict[str, Any], *, model: str) -> GatewayResponse:
        return parse_anthropic_response(body, model=model)

    def decoder(self, *, model: str, provider: str) -> StreamDecoder:
        return _Decoder(model, provider)


RENDERER = Renderer(
    "anthropic", lambda resp, request: render_response(resp), lambda request: SSEWriter(), render_error
)
WIRE = Wire(
    name="anthropic",
    parse_request=parse_request,
    renderer=RENDERER,
    upstream_path="/v1/messages",
    upstream_error=anthropic_error,
    make_tap=AnthropicUsageTap,
    body_usage=body_usage,
    edit=strip_gateway_thinking,
    add_cache_hints=add_cache_hints,
    codec=AnthropicCodec(),
    set_effort=anthropic_effort,
)
