"""The Gemini ``generateContent`` wire: its ``Wire`` (an upstream codec; no client side).

Ties the package's modules together for the registry: ``upstream`` builds a translated request
(``schema`` converts tool schemas), ``upstream_response`` / ``upstream_stream`` decode answers,
``errors`` maps error responses (``retry-after`` and ``RetryInfo``), ``usage`` reads
``usageMetadata``, ``common`` holds the route, usage, finish reasons and the ``thoughtSignature``
carrier. The path depends on the model and on streaming (``common.route``; ``upstream_path`` is
its template). No client speaks Gemini to the gateway: ``parse_request`` refuses with a 400.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import InvalidRequest, UpstreamProtocolError
from ...core.ir import GatewayRequest, GatewayResponse, StreamEvent
from ...core.providers import ProviderSpec
from ..base import JSON, Renderer, StreamDecoder, Wire, content_headers, json_event
from ..sse import SSEEvent
from .common import route
from .errors import gemini_error, render_error
from .upstream import build_gemini_request
from .upstream_response import parse_gemini_response
from .upstream_stream import GeminiStreamDecoder
from .usage import GeminiUsageTap, body_usage

__all__ = ["WIRE", "route"]


class _Decoder:
    def __init__(self, model: str, provider: str) -> None:
        self._inner = GeminiStreamDecoder(model=model, provider=provider)
        self._provider = provider

    @property
    def done(self) -> bool:
        return False  # no terminal marker: read to EOF

    def start(self) -> list[StreamEvent]:
        return self._inner.start()

    def feed(self, sse: SSEEvent) -> list[StreamEvent]:
        if not sse.data.strip():
            return []
        return self._inner.feed(json_event(sse, self._provider))

    def finish(self) -> list[StreamEvent]:
        return self._inner.finish()


class GeminiCodec:
    def build(
        self, request: GatewayRequest, *, model: str, spec: ProviderSpec, max_output_tokens: int | None
    ) -> dict[str, Any]:
        return build_gemini_request(request, max_output_tokens=max_output_tokens)

    def headers(self, *, stream: bool) -> dict[str, str]:
        return content_headers(stream=stream)

    def parse(self, body: dict[str, Any], *, model: str) -> GatewayResponse:
        return parse_gemini_response(body, model=model)

    def decoder(self, *, model: str, provider: str) -> StreamDecoder:
        return _Decoder(model, provider)


def _no_client(body: JSON) -> GatewayRequest:
    raise InvalidRequest("the gateway does not accept Gemini-protocol requests from clients")


def _no_render(*args: object) -> Any:
    raise UpstreamProtocolError("the gateway renders nothing in the Gemini protocol")


RENDERER = Renderer("gemini", _no_render, _no_render, render_error)
WIRE = Wire(
    name="gemini",
    parse_request=_no_client,
    renderer=RENDERER,
    upstream_path="/models/{model}:generateContent",
    upstream_error=gemini_error,
    make_tap=GeminiUsageTap,
    body_usage=body_usage,
    max_tokens_fields=("generationConfig.maxOutputTokens",),
    codec=GeminiCodec(),
)
