"""An OpenAI Responses SSE stream (a translated call's answer) → IR stream events.

Owns block sequencing for a Responses upstream (one block open at a time, indices from 0):
reasoning summary deltas stream live as a reasoning block, closed at the item's
``output_item.done`` with the ``gw:oai1:`` signature carrying its ``encrypted_content``
(``upstream_items``); ``output_text`` and ``refusal`` deltas stream live as a text block; a
``function_call`` / ``custom_tool_call`` is emitted whole when its item is done (its arguments or
input, else the streamed deltas; past ``MAX_TOOL_ARGUMENT_CHARS`` the stream ends in an error).
``response.completed`` / ``response.incomplete`` end the stream with the usage and stop reason;
``response.failed`` and an ``error`` event end it with the mapped error. Does not read bytes or SSE
framing (the caller feeds each event's parsed JSON) and does no I/O.
"""

from __future__ import annotations

import json
import uuid

from ...core.config import MAX_TOOL_ARGUMENT_CHARS
from ...core.errors import UpstreamProtocolError
from ...core.ir import (
    JSON,
    BlockKind,
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    ReasoningDelta,
    SignatureDelta,
    StreamError,
    StreamEvent,
    TextDelta,
    ToolArgsDelta,
    Usage,
)
from ..openai_errors import error_from_payload
from .upstream_items import (
    call_arguments,
    call_id,
    message_text,
    stop_reason,
    summary_text,
    wrap_reasoning,
)
from .usage import usage_from_responses

_TERMINAL = ("response.completed", "response.incomplete")
_TEXT_DELTAS = ("response.output_text.delta", "response.refusal.delta")
_REASONING_DELTAS = ("response.reasoning_summary_text.delta", "response.reasoning_text.delta")
_ARG_DELTAS = ("response.function_call_arguments.delta", "response.custom_tool_call_input.delta")
_CALLS = ("function_call", "custom_tool_call")


class ResponsesStreamDecoder:
    """Feed it parsed Responses events; it returns IR events (``start`` first, ``finish`` last).

    ``model`` is the client-requested name reported in ``MessageStart``."""

    def __init__(self, model: str, provider: str | None = None) -> None:
        self.model = model
        self.provider = provider
        self.message_id = f"msg_{uuid.uuid4().hex[:24]}"
        self._seed: str | None = None
        self._next = 0
        self._open: BlockKind | None = None
        self._open_index = -1
        self._open_item: str | None = None
        self._reasoning: list[str] = []
        self._summary_index: int | None = None
        self._args: dict[str, list[str]] = {}
        self._arg_sizes: dict[str, int] = {}
        self._seen: set[str] = set()  # tool-call ids handed out
        self._streamed: set[str] = set()  # message items whose text came as deltas
        self._calls = 0
        self._refused = False
        self._chars = 0
        self._final: JSON | None = None
        self._done = False

    @property
    def done(self) -> bool:
        """True once a terminal event (or an error) arrived: stop reading."""
        return self._done

    def start(self) -> list[StreamEvent]:
        return [MessageStart(id=self.message_id, model=self.model, usage=Usage())]

    # --- blocks -----------------------------------------------------------------------------

    def _close(self, signature: str | None = None) -> list[StreamEvent]:
        if self._open is None:
            return []
        events: list[StreamEvent] = []
        if self._open == "reasoning":
            text = "".join(self._reasoning)
            events.append(SignatureDelta(self._open_index, signature or wrap_reasoning("", None, text)))
        events.append(BlockStop(self._open_index))
        self._open = None
        self._open_item = None
        self._reasoning = []
        self._summary_index = None
        return events

    def _ensure(self, kind: BlockKind, item_id: str | None) -> list[StreamEvent]:
        if self._open == kind and (item_id is None or self._open_item in (None, item_id)):
            self._open_item = self._open_item or item_id
            return []
        events = self._close()
        self._open, self._open_index, self._open_item = kind, self._next, item_id
        self._next += 1
        events.append(BlockStart(self._open_index, kind, reasoning_origin="gateway"))
        return events

    # --- events -----------------------------------------------------------------------------

    def _text(self, payload: JSON) -> list[StreamEvent]:
        delta = payload.get("delta")
        if not isinstance(delta, str) or not delta:
            return []
        if payload.get("type") == "response.refusal.delta":
            self._refused = True
        item_id = _str(payload.get("item_id"))
        if item_id is not None:
            self._streamed.add(item_id)
        events = self._ensure("text", item_id)
        self._chars += len(delta)
        events.append(TextDelta(self._open_index, delta))
        return events

    def _reasoning_delta(self, payload: JSON) -> list[StreamEvent]:
        delta = payload.get("delta")
        if not isinstance(delta, str) or not delta:
            return []
        events = self._ensure("reasoning", _str(payload.get("item_id")))
        summary = payload.get("summary_index")
        if isinstance(summary, int) and self._summary_index is not None and summary != self._summary_index:
            delta = "\n\n" + delta
        if isinstance(summary, int):
            self._summary_index = summary
        self._reasoning.append(delta)
        self._chars += len(delta)
        events.append(ReasoningDelta(self._open_index, delta))
        return events

    def _arg_delta(self, payload: JSON) -> list[StreamEvent]:
        item_id, delta = _str(payload.get("item_id")), payload.get("delta")
        if item_id is None or not isinstance(delta, str):
            return []
        self._args.setdefault(item_id, []).append(delta)
        size = self._arg_sizes[item_id] = self._arg_sizes.get(item_id, 0) + len(delta)
        if size > MAX_TOOL_ARGUMENT_CHARS:
            self._done = True
            message = (
                f"{self.provider or 'the upstream'} sent tool-call arguments longer than "
                f"{MAX_TOOL_ARGUMENT_CHARS} characters"
            )
            return [StreamError(UpstreamProtocolError(message, provider=self.provider))]
        return []

    def _item_done(self, payload: JSON) -> list[StreamEvent]:
        item = payload.get("item")
        if not isinstance(item, dict):
            return []
        kind, item_id = item.get("type"), _str(item.get("id"))
        if kind == "reasoning":
            text = summary_text(item)
            encrypted = item.get("encrypted_content")
            events: list[StreamEvent] = []
            if self._open != "reasoning" or self._open_item not in (None, item_id):
                events += self._ensure("reasoning", item_id)
                if text:  # a summary that came only with the finished item
                    self._reasoning.append(text)
                    events.append(ReasoningDelta(self._open_index, text))
            full = "".join(self._reasoning)
            signature = wrap_reasoning(item_id or "", encrypted if isinstance(encrypted, str) else None, full)
            return events + self._close(signature)
        if kind == "message":
            text, refused = message_text(item)
            self._refused = self._refused or refused
            if self._open == "text" and self._open_item in (None, item_id):
                return self._close()
            if text.strip() and item_id not in self._streamed:  # text that was never streamed
                events = self._ensure("text", item_id)
                self._chars += len(text)
                return [*events, TextDelta(self._open_index, text), *self._close()]
            return []
        if kind in _CALLS:
            return self._call(item, item_id)
        return []

    def _call(self, item: JSON, item_id: str | None) -> list[StreamEvent]:
        name = item.get("name")
        if not isinstance(name, str) or not name:
            return []
        streamed = "".join(self._args.pop(item_id, [])) if item_id else ""
        arguments = call_arguments(item, streamed)
        args_json = json.dumps(arguments, ensure_ascii=False)
        if len(args_json) > MAX_TOOL_ARGUMENT_CHARS:
            self._done = True
            message = (
                f"{self.provider or 'the upstream'} sent tool-call arguments longer than "
                f"{MAX_TOOL_ARGUMENT_CHARS} characters"
            )
            return [StreamError(UpstreamProtocolError(message, provider=self.provider))]
        events = self._close()
        tool_id = call_id(item, self._seed or self.message_id, self._next, self._seen)
        index = self._next
        self._next += 1
        self._calls += 1
        self._chars += len(args_json)
        return [
            *events,
            BlockStart(index, "tool_call", tool_id=tool_id, tool_name=name),
            ToolArgsDelta(index, args_json),
            BlockStop(index),
        ]

    def feed(self, payload: JSON) -> list[StreamEvent]:
        """One parsed event → IR events; ``response.failed`` and ``error`` end the stream."""
        if self._done or not isinstance(payload, dict):
            return []
        kind = payload.get("type")
        if kind in _TEXT_DELTAS:
            return self._text(payload)
        if kind in _REASONING_DELTAS:
            return self._reasoning_delta(payload)
        if kind in _ARG_DELTAS:
            return self._arg_delta(payload)
        if kind == "response.output_item.done":
            return self._item_done(payload)
        response = payload.get("response")
        if kind in ("response.created", "response.in_progress") and isinstance(response, dict):
            if self._seed is None and isinstance(response.get("id"), str):
                self._seed = response["id"]
            return []
        if kind in _TERMINAL:
            self._done = True
            self._final = response if isinstance(response, dict) else {}
            return self._end()
        if kind == "response.failed":
            self._done = True
            error = response.get("error") if isinstance(response, dict) else None
            return [StreamError(error_from_payload(error or "the response failed", self.provider))]
        if kind == "error":
            self._done = True
            error = payload.get("error")
            return [StreamError(error_from_payload(error if error else payload, self.provider))]
        return []

    def _end(self) -> list[StreamEvent]:
        final = self._final or {}
        events = self._close()
        raw_usage = final.get("usage")
        usage = (
            usage_from_responses(raw_usage)
            if isinstance(raw_usage, dict)
            else Usage(output_tokens=self._chars // 4, estimated=True)
        )
        reason = stop_reason(
            final.get("status"),
            final.get("incomplete_details"),
            refused=self._refused,
            has_tool_calls=self._calls > 0,
        )
        return [*events, MessageDelta(stop_reason=reason, usage=usage), MessageStop()]

    def finish(self) -> list[StreamEvent]:
        """At EOF: a stream without its terminal event was cut short (an error)."""
        if self._final is None and not self._done:
            raise UpstreamProtocolError(
                f"{self.provider or 'the upstream'} closed the stream before it finished",
                provider=self.provider,
            )
        return []


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
