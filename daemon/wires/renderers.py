"""Client renderers: one object per client protocol that turns IR results into that protocol.

Each renderer knows how to render a whole response, a stream (IR events → bytes) and an error.
The executors and the HTTP layer use only this interface, so adding a client protocol means
adding a renderer, not touching the executors.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..core.errors import GatewayError
from ..core.ir import GatewayRequest, GatewayResponse, StreamEvent
from .anthropic.errors import render_error as render_anthropic_error
from .anthropic.response import SSEWriter, render_response
from .chat.response import ChatChunkWriter, render_chat_completion, render_chat_error
from .responses.response import ResponsesSSEWriter, render_responses_error, render_responses_response

SSE_HEADERS: list[tuple[str, str]] = [
    ("content-type", "text/event-stream; charset=utf-8"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
]


class StreamWriter(Protocol):
    def render(self, event: StreamEvent) -> bytes: ...

    def close(self) -> bytes:
        """Bytes after the last event of a successful stream (e.g. Chat's ``[DONE]``)."""
        ...


class ClientRenderer(Protocol):
    protocol: str

    def response(self, resp: GatewayResponse, request: GatewayRequest) -> dict[str, Any]: ...

    def stream(self, request: GatewayRequest) -> StreamWriter: ...

    def error(self, err: GatewayError) -> tuple[int, dict[str, str], dict[str, Any]]: ...


class _AnthropicStream:
    def __init__(self) -> None:
        self._writer = SSEWriter()

    def render(self, event: StreamEvent) -> bytes:
        return self._writer.render(event)

    def close(self) -> bytes:
        return b""


class AnthropicRenderer:
    protocol = "anthropic"

    def response(self, resp: GatewayResponse, request: GatewayRequest) -> dict[str, Any]:
        return render_response(resp)

    def stream(self, request: GatewayRequest) -> StreamWriter:
        return _AnthropicStream()

    def error(self, err: GatewayError) -> tuple[int, dict[str, str], dict[str, Any]]:
        status, headers, body = render_anthropic_error(err)
        return status, headers, dict(body)


class _Closing:
    """Writers that end their own stream on MessageStop (Chat's [DONE], Responses' completed)."""

    def __init__(self, inner: ChatChunkWriter | ResponsesSSEWriter) -> None:
        self._inner = inner

    def render(self, event: StreamEvent) -> bytes:
        return self._inner.render(event)

    def close(self) -> bytes:
        return b""


class ChatRenderer:
    protocol = "chat"

    def response(self, resp: GatewayResponse, request: GatewayRequest) -> dict[str, Any]:
        return render_chat_completion(resp, request=request)

    def stream(self, request: GatewayRequest) -> StreamWriter:
        return _Closing(ChatChunkWriter(request))

    def error(self, err: GatewayError) -> tuple[int, dict[str, str], dict[str, Any]]:
        status, headers, body = render_chat_error(err)
        return status, headers, dict(body)


class ResponsesRenderer:
    protocol = "responses"

    def response(self, resp: GatewayResponse, request: GatewayRequest) -> dict[str, Any]:
        return render_responses_response(resp, request=request)

    def stream(self, request: GatewayRequest) -> StreamWriter:
        return _Closing(ResponsesSSEWriter(request))

    def error(self, err: GatewayError) -> tuple[int, dict[str, str], dict[str, Any]]:
        status, headers, body = render_responses_error(err)
        return status, headers, dict(body)


ANTHROPIC = AnthropicRenderer()
RENDERERS: dict[str, ClientRenderer] = {
    "anthropic": ANTHROPIC,
    "chat": ChatRenderer(),
    "responses": ResponsesRenderer(),
}
