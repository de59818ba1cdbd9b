"""The OpenAI Responses wire (Codex): its ``Wire`` (client renderer and pass-through pieces).

Ties the package's modules together for the registry: ``request`` parses a client request (with
``tools`` and ``objects``), ``response`` / ``stream`` render answers and event streams, ``usage``
taps relayed streams. Errors in both directions and ``prompt_cache_key`` are shared with the Chat
wire. No upstream codec yet: requests from other protocols are not translated into Responses.
"""

from __future__ import annotations

from ..base import Renderer, Wire
from ..openai_cache_key import add_cache_hints
from ..openai_errors import openai_error
from .reasoning_items import drop_reasoning_items
from .request import parse_responses_request
from .response import ResponsesSSEWriter, render_responses_error, render_responses_response
from .usage import ResponsesUsageTap, body_usage

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
)
