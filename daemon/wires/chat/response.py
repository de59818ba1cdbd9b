"""IR responses and stream events → Chat Completions objects and chunks, for Chat *clients*.

Owns the client side of protocols.md §3.3-3.4 and §4.6(d): ``render_chat_completion`` (a
buffered ``chat.completion``), ``ChatChunkWriter`` (``data: <json>`` chunks ending in
``data: [DONE]``; the k-th tool block is tool call index k; reasoning is sent as the
non-standard ``reasoning_content``; a ``choices: []`` usage chunk when the request asked for
``stream_options.include_usage``; a mid-stream failure is a ``data: {"error": …}`` chunk and no
``[DONE]``) and ``render_chat_error`` (shared OpenAI error shape). Stop reasons map per §4.4;
usage per §4.5 (``prompt_tokens`` includes cached input). Tool calls are always rendered as
``function`` calls (custom-tool calls keep their ``{"input": …}`` arguments). No I/O.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ...core import jsonfast
from ...core.errors import GatewayError
from ...core.ir import (
    JSON,
    BlockStart,
    BlockStop,
    GatewayRequest,
    GatewayResponse,
    MessageDelta,
    MessageStart,
    MessageStop,
    ReasoningDelta,
    ReasoningPart,
    StopReason,
    StreamError,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolArgsDelta,
    ToolCallPart,
    Usage,
)
from ..openai_common import merge_usage, now
from ..openai_errors import render_openai_error

__all__ = ["ChatChunkWriter", "finish_reason", "render_chat_completion", "render_chat_error"]

_FINISH: dict[str, str] = {
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "context_window_exceeded": "length",
    "refusal": "content_filter",
}
DONE = b"data: [DONE]\n\n"


def finish_reason(stop: StopReason | None) -> str:
    """§4.4 A → C: end_turn / stop_sequence / pause_turn (and unknown) → ``stop``."""
    return _FINISH.get(stop or "", "stop")


def new_completion_id(raw: str | None = None) -> str:
    """A ``chatcmpl-`` id: ``raw`` if it already is one, else a fresh one."""
    if raw and raw.startswith("chatcmpl-"):
        return raw
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def render_chat_usage(usage: Usage) -> JSON:
    prompt = usage.total_input_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def render_chat_error(err: GatewayError) -> tuple[int, dict[str, str], dict[str, object]]:
    """(HTTP status, extra headers, body) for an error answered to a Chat Completions client."""
    return render_openai_error(err)


def render_chat_completion(
    resp: GatewayResponse, *, request: GatewayRequest, created: int | None = None
) -> dict[str, Any]:
    """IR response → a ``chat.completion`` object; ``model`` is the client-requested name."""
    texts = [p.text for p in resp.parts if isinstance(p, TextPart) and p.text]
    reasoning = [p.text for p in resp.parts if isinstance(p, ReasoningPart) and p.text]
    calls = [
        {
            "id": p.id,
            "type": "function",
            "function": {"name": p.name, "arguments": json.dumps(p.arguments, ensure_ascii=False)},
        }
        for p in resp.parts
        if isinstance(p, ToolCallPart)
    ]
    message: JSON = {"role": "assistant", "content": "".join(texts) if texts else None, "refusal": None}
    if reasoning:
        message["reasoning_content"] = "\n\n".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    return {
        "id": new_completion_id(resp.id),
        "object": "chat.completion",
        "created": created if created is not None else now(),
        "model": request.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(resp.stop_reason),
            }
        ],
        "usage": render_chat_usage(resp.usage),
    }


def wants_usage(request: GatewayRequest) -> bool:
    options = request.extra.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


class ChatChunkWriter:
    """Renders IR stream events as Chat Completions chunks for one client request."""

    def __init__(
        self, request: GatewayRequest, *, completion_id: str | None = None, created: int | None = None
    ) -> None:
        self.request = request
        self._id = completion_id or new_completion_id()
        self._created = created if created is not None else now()
        self._include_usage = wants_usage(request)
        self._started = False
        self._finished = False
        self._finish_sent = False
        self._tool_count = 0
        self._block_tool: dict[int, int] = {}  # IR block index → Chat tool_calls index
        self._no_args: set[int] = set()  # tool blocks that have not sent an argument fragment yet
        self._start_usage = Usage()
        self._usage: Usage | None = None

    @property
    def finished(self) -> bool:
        return self._finished

    def _chunk(self, delta: JSON | None, finish: str | None = None, *, usage: Usage | None = None) -> bytes:
        payload: JSON = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self.request.model,
            "choices": (
                []
                if delta is None
                else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
            ),
        }
        if self._include_usage:
            payload["usage"] = None if usage is None else render_chat_usage(usage)
        return b"data: " + jsonfast.dumps(payload) + b"\n\n"

    def _ensure_started(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        return self._chunk({"role": "assistant", "content": ""})

    def render(self, event: StreamEvent) -> bytes:
        """One IR event → zero or more ``data:`` chunks."""
        if self._finished:
            return b""
        if isinstance(event, StreamError):
            return self.error(event)
        if isinstance(event, MessageStart):
            self._start_usage = event.usage
            return self._ensure_started()
        out = self._ensure_started()
        if isinstance(event, TextDelta) and event.text:
            return out + self._chunk({"content": event.text})
        if isinstance(event, ReasoningDelta) and event.text:
            return out + self._chunk({"reasoning_content": event.text})
        if isinstance(event, BlockStart) and event.kind == "tool_call":
            k = self._block_tool[event.index] = self._tool_count
            self._tool_count += 1
            self._no_args.add(event.index)
            function = {"name": event.tool_name or "", "arguments": ""}
            call = {"index": k, "id": event.tool_id or "", "type": "function", "function": function}
            return out + self._chunk({"tool_calls": [call]})
        if isinstance(event, ToolArgsDelta) and event.index in self._block_tool and event.partial_json:
            self._no_args.discard(event.index)
            return out + self._args(event.index, event.partial_json)
        if isinstance(event, BlockStop) and event.index in self._no_args:
            self._no_args.discard(event.index)
            return out + self._args(event.index, "{}")  # clients json-parse the joined arguments
        if isinstance(event, MessageDelta):
            self._usage = event.usage
            return out + self._finish(event.stop_reason)
        if isinstance(event, MessageStop):
            return out + self._finish("end_turn") + self._end()
        return out  # other block starts/stops and signatures have no Chat form

    def _args(self, block: int, fragment: str) -> bytes:
        call = {"index": self._block_tool[block], "function": {"arguments": fragment}}
        return self._chunk({"tool_calls": [call]})

    def _finish(self, stop: StopReason | None) -> bytes:
        if self._finish_sent:
            return b""
        self._finish_sent = True
        return self._chunk({}, finish_reason(stop))

    def _end(self) -> bytes:
        self._finished = True
        out = b""
        if self._include_usage:
            out = self._chunk(None, usage=merge_usage(self._start_usage, self._usage))
        return out + DONE

    def error(self, event: StreamError) -> bytes:
        """A mid-stream failure: one ``data: {"error": …}`` chunk; the stream then ends (no [DONE])."""
        self._finished = True
        err = event.error
        if isinstance(err, GatewayError):
            _, _, body = render_openai_error(err)
        else:
            message = str(err) or type(err).__name__
            body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
        return b"data: " + jsonfast.dumps(body) + b"\n\n"
