"""The OpenAI Chat Completions wire: its ``Wire`` (client renderer, upstream codec, pass-through).

Ties the package's modules together for the registry: ``request`` parses a client request,
``response`` renders answers and chunk streams, ``upstream`` / ``upstream_response`` /
``upstream_stream`` build and decode translated upstream calls, ``usage`` taps relayed streams.
Errors in both directions and ``prompt_cache_key`` are shared with the Responses wire
(``wires.openai_errors``, ``wires.openai_cache_key``).
"""

from __future__ import annotations

from typing import Any

from ...core.errors import UpstreamProtocolError
from ...core.ir import GatewayRequest, GatewayResponse, StreamEvent
from ...core.providers import ProviderSpec
from ..base import Renderer, StreamDecoder, Wire, content_headers, json_event
from ..effort_edit import chat_effort
from ..openai_cache_key import add_cache_hints
from ..openai_errors import openai_error
from ..sse import SSEEvent
from .request import parse_chat_request
from .response import ChatChunkWriter, render_chat_completion, render_chat_error
from .upstream import build_chat_request
from .upstream_response import parse_chat_response
from .upstream_stream import ChatStreamDecoder
from .usage import ChatUsageTap, body_usage


class _Decoder:
    def __init__(self, model: str, provider: str) -> None:
        self._inner = ChatStreamDecoder(model=model, provider=provider)
        self._provider = provider
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def start(self) -> list[StreamEvent]:
        return self._inner.start()

    def feed(self, sse: SSEEvent) -> list[StreamEvent]:
        data = sse.data
        if data[:1] != "{" and data.strip() == "[DONE]":
            self._done = True
            return []
        return self._inner.feed(json_event(sse, self._provider))

    def finish(self) -> list[StreamEvent]:
        if not self._done and not self._inner.saw_finish:
            raise UpstreamProtocolError(
                f"{self._provider} closed the stream before it finished", provider=self._provider
            )
        return self._inner.finish()


class ChatCodec:
    def build(
        self, request: GatewayRequest, *, model: str, spec: ProviderSpec, max_output_tokens: int | None
    ) -> dict[str, Any]:
        return build_chat_request(request, model=model, spec=spec, max_output_tokens=max_output_tokens)

    def headers(self, *, stream: bool) -> dict[str, str]:
        return content_headers(stream=stream)

    def parse(self, body: dict[str, Any], *, model: str) -> GatewayResponse:
        return parse_chat_response(body, model=model)

    def decoder(self, *, model: str, provider: str) -> StreamDecoder:
        return _Decoder(model, provider)


RENDERER = Renderer(
    "chat",
    lambda resp, request: render_chat_completion(resp, request=request),
    ChatChunkWriter,
    render_chat_error,
)
WIRE = Wire(
    name="chat",
    parse_request=parse_chat_request,
    renderer=RENDERER,
    upstream_path="/chat/completions",
    upstream_error=openai_error,
    make_tap=ChatUsageTap,
    body_usage=body_usage,
    max_tokens_fields=("max_completion_tokens", "max_tokens"),
    add_cache_hints=add_cache_hints,
    codec=ChatCodec(),
    set_effort=chat_effort,
)
