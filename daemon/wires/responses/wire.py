"""The OpenAI Responses wire (Codex): its ``Wire`` (client renderer and pass-through pieces).

Ties the package's modules together for the registry: ``request`` parses a client request (with
``tools`` and ``objects``), ``response`` / ``stream`` render answers and event streams, ``usage``
taps relayed streams. Errors in both directions and ``prompt_cache_key`` are shared with the Chat
wire. The upstream codec (Anthropic and Chat clients translated onto ``/v1/responses``):
``upstream`` builds the stateless request, ``upstream_response`` / ``upstream_stream`` decode the
answer, ``upstream_items`` carries encrypted reasoning items through the IR.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import UpstreamProtocolError
from ...core.ir import GatewayRequest, GatewayResponse, StreamEvent
from ...core.providers import ProviderSpec
from ..base import Renderer, StreamDecoder, Wire, content_headers, json_event
from ..effort_edit import responses_effort
from ..openai_cache_key import add_cache_hints
from ..openai_errors import openai_error
from ..sse import SSEEvent
from .reasoning_items import drop_reasoning_items
from .request import parse_responses_request
from .response import ResponsesSSEWriter, render_responses_error, render_responses_response
from .upstream import build_responses_request
from .upstream_response import parse_responses_body
from .upstream_stream import ResponsesStreamDecoder
from .usage import ResponsesUsageTap, body_usage


class _Decoder:
    def __init__(self, model: str, provider: str) -> None:
        self._inner = ResponsesStreamDecoder(model=model, provider=provider)
        self._provider = provider

    @property
    def done(self) -> bool:
        return self._inner.done

    def start(self) -> list[StreamEvent]:
        return self._inner.start()

    def feed(self, sse: SSEEvent) -> list[StreamEvent]:
        data = sse.data.strip()
        if not data or data == "[DONE]":
            return []
        payload = json_event(sse, self._provider)
        if "type" not in payload and sse.event:
            payload["type"] = sse.event
        return self._inner.feed(payload)

    def finish(self) -> list[StreamEvent]:
        if not self._inner.done:
            raise UpstreamProtocolError(
                f"{self._provider} closed the stream before it finished", provider=self._provider
            )
        return self._inner.finish()


class ResponsesCodec:
    def build(
        self, request: GatewayRequest, *, model: str, spec: ProviderSpec, max_output_tokens: int | None
    ) -> dict[str, Any]:
        return build_responses_request(request, model=model, spec=spec, max_output_tokens=max_output_tokens)

    def headers(self, *, stream: bool) -> dict[str, str]:
        return content_headers(stream=stream)

    def parse(self, body: dict[str, Any], *, model: str) -> GatewayResponse:
        return parse_responses_body(body, model=model)

    def decoder(self, *, model: str, provider: str) -> StreamDecoder:
        return _Decoder(model, provider)


RENDERER = Renderer(
    "responses",
    lambda resp, request: render_responses_response(resp, request=request),
    ResponsesSSEWriter,
    render_responses_error,
)
WIRE = Wire(
    name="responses",
    parse_request=parse_responses_request,
    renderer=RENDERER,
    upstream_path="/responses",
    upstream_error=openai_error,
    make_tap=ResponsesUsageTap,
    body_usage=body_usage,
    max_tokens_fields=("max_output_tokens",),
    add_cache_hints=add_cache_hints,
    drop_reasoning=drop_reasoning_items,
    codec=ResponsesCodec(),
    set_effort=responses_effort,
)
