"""Upstream codecs: how to speak each wire the gateway translates into.

A codec builds the upstream request from the IR, parses a whole upstream response into the IR,
decodes an upstream stream into IR events and maps an upstream error response into the error
hierarchy. The translated executor works only through this interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ..core import jsonfast
from ..core.errors import UpstreamError, UpstreamProtocolError
from ..core.ir import GatewayRequest, GatewayResponse, StreamEvent
from ..core.providers import ProviderSpec
from ..upstream.client import USER_AGENT
from .anthropic.upstream import (
    AnthropicStreamDecoder,
    anthropic_error,
    build_anthropic_request,
    parse_anthropic_response,
)
from .chat.upstream import build_chat_request
from .chat.upstream_response import ChatStreamDecoder, chat_error, parse_chat_response
from .sse import SSEEvent


class StreamDecoder(Protocol):
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
    wire: str
    path: str

    def build(
        self, request: GatewayRequest, *, model: str, spec: ProviderSpec, max_output_tokens: int | None
    ) -> dict[str, Any]: ...

    def headers(self, spec: ProviderSpec, key: str | None, *, stream: bool) -> dict[str, str]: ...

    def parse(self, body: dict[str, Any], *, model: str) -> GatewayResponse: ...

    def decoder(self, *, model: str, provider: str) -> StreamDecoder: ...

    def error(self, status: int, body: bytes, headers: Mapping[str, str], provider: str) -> UpstreamError: ...


def json_event(sse: SSEEvent, provider: str) -> dict[str, Any]:
    """An upstream stream event's JSON object; anything else is a protocol error."""
    try:
        data = jsonfast.loads(sse.data)
    except ValueError as exc:
        raise UpstreamProtocolError(f"{provider} sent an unreadable stream event", provider=provider) from exc
    if not isinstance(data, dict):
        raise UpstreamProtocolError(f"{provider} sent a non-object stream event", provider=provider)
    return data


class _ChatDecoder:
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
    wire = "chat"
    path = "/chat/completions"

    def build(
        self, request: GatewayRequest, *, model: str, spec: ProviderSpec, max_output_tokens: int | None
    ) -> dict[str, Any]:
        return build_chat_request(request, model=model, spec=spec, max_output_tokens=max_output_tokens)

    def headers(self, spec: ProviderSpec, key: str | None, *, stream: bool) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
            "user-agent": USER_AGENT,
        }
        if key and spec.auth == "x-api-key":
            headers["x-api-key"] = key
        elif key and spec.auth == "bearer":
            headers["authorization"] = f"Bearer {key}"
        return headers

    def parse(self, body: dict[str, Any], *, model: str) -> GatewayResponse:
        return parse_chat_response(body, model=model)

    def decoder(self, *, model: str, provider: str) -> StreamDecoder:
        return _ChatDecoder(model, provider)

    def error(self, status: int, body: bytes, headers: Mapping[str, str], provider: str) -> UpstreamError:
        return chat_error(status, body, headers, provider)


class _AnthropicDecoder:
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
    wire = "anthropic"
    path = "/v1/messages"

    def build(
        self, request: GatewayRequest, *, model: str, spec: ProviderSpec, max_output_tokens: int | None
    ) -> dict[str, Any]:
        return build_anthropic_request(request, model=model, max_output_tokens=max_output_tokens)

    def headers(self, spec: ProviderSpec, key: str | None, *, stream: bool) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
            "anthropic-version": "2023-06-01",
            "user-agent": USER_AGENT,
        }
        if key:
            headers["x-api-key"] = key
        return headers

    def parse(self, body: dict[str, Any], *, model: str) -> GatewayResponse:
        return parse_anthropic_response(body, model=model)

    def decoder(self, *, model: str, provider: str) -> StreamDecoder:
        return _AnthropicDecoder(model, provider)

    def error(self, status: int, body: bytes, headers: Mapping[str, str], provider: str) -> UpstreamError:
        return anthropic_error(status, body, headers, provider)


CODECS: dict[str, UpstreamCodec] = {"chat": ChatCodec(), "anthropic": AnthropicCodec()}
