"""The OpenAI Responses wire (Codex): its ``Wire`` (client renderer and pass-through pieces).

Ties the package's modules together for the registry: ``request`` parses a client request (with
``tools`` and ``objects``), ``response`` / ``stream`` render answers and event streams, ``usage``
taps relayed streams. Errors in both directions and ``prompt_cache_key`` are shared with the Chat
wire. No upstream codec yet: requests from other protocols are not translated into Responses.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import GatewayError
from ...core.ir import GatewayRequest, GatewayResponse
from ..base import OwnClose, StreamWriter, Wire
from ..openai_cache_key import add_cache_hints
from ..openai_errors import openai_error
from .request import parse_responses_request
from .response import ResponsesSSEWriter, render_responses_error, render_responses_response
from .usage import ResponsesUsageTap, body_usage


class ResponsesRenderer:
    protocol = "responses"

    def response(self, resp: GatewayResponse, request: GatewayRequest) -> dict[str, Any]:
        return render_responses_response(resp, request=request)

    def stream(self, request: GatewayRequest) -> StreamWriter:
        return OwnClose(ResponsesSSEWriter(request))

    def error(self, err: GatewayError) -> tuple[int, dict[str, str], dict[str, Any]]:
        status, headers, body = render_responses_error(err)
        return status, headers, dict(body)


RENDERER = ResponsesRenderer()
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
)
