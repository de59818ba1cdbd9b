"""The Chat Completions stream → IR stream-event state machine (protocols.md §4.6(a)).

Owns block sequencing for a Chat upstream: reasoning and text deltas become blocks streamed
live (one open at a time, indices strictly increasing from 0); tool-call fragments are buffered
per Chat index and emitted whole at the end, because providers interleave them (§4.9 #5, #6);
one call's arguments past ``MAX_TOOL_ARGUMENT_CHARS`` end the stream with an error instead.
Does not read bytes or SSE framing (the caller feeds parsed ``data:`` JSON payloads) and does
not decide whether a stream that ended early is an error.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

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
    ReasoningOrigin,
    SignatureDelta,
    StreamError,
    StreamEvent,
    TextDelta,
    ToolArgsDelta,
    Usage,
)
from ..openai_common import parse_arguments
from ..openai_errors import error_from_payload
from ..toolids import gateway_signature, generate_tool_id, sanitize_tool_id
from .common import stop_reason, usage_from_chat


@dataclass(slots=True)
class _Call:
    id: str | None = None
    name: str | None = None
    # Argument fragments as they came (joined once at the end: ``+=`` on an attribute is quadratic).
    parts: list[str] = field(default_factory=list)
    size: int = 0

    @property
    def arguments(self) -> str:
        return "".join(self.parts)


class ChatStreamDecoder:
    """Feed it parsed Chat chunks; it returns IR stream events (call ``start`` first).

    ``model`` is the client-requested name reported in ``MessageStart``.
    """

    def __init__(self, model: str, message_id: str | None = None, provider: str | None = None) -> None:
        self.model = model
        self.message_id = message_id or f"msg_{uuid.uuid4().hex[:24]}"
        self.provider = provider
        self._next_index = 0
        self._open: BlockKind | None = None
        self._open_index = -1
        self._reasoning = ""  # text of the open reasoning block, for its signature
        self._pending_ws = ""  # leading whitespace not yet worth opening a text block for
        self._calls: dict[int, _Call] = {}
        self._last_call: int | None = None
        self._finish: object = None
        self._usage: Usage | None = None
        self._chars = 0
        self._done = False

    @property
    def saw_finish(self) -> bool:
        """True once a chunk carried a ``finish_reason`` (the stream ended on purpose)."""
        return self._finish is not None

    def start(self) -> list[StreamEvent]:
        return [MessageStart(id=self.message_id, model=self.model, usage=Usage())]

    # --- blocks -----------------------------------------------------------------------------

    def _close(self) -> list[StreamEvent]:
        if self._open is None:
            return []
        events: list[StreamEvent] = []
        if self._open == "reasoning":
            events.append(SignatureDelta(self._open_index, gateway_signature(self._reasoning)))
        events.append(BlockStop(self._open_index))
        self._open = None
        return events

    def _ensure(self, kind: BlockKind) -> list[StreamEvent]:
        if self._open == kind:
            return []
        events = self._close()
        self._open, self._open_index = kind, self._next_index
        self._next_index += 1
        self._reasoning = ""
        origin: ReasoningOrigin = "gateway" if kind == "reasoning" else "anthropic"
        events.append(BlockStart(self._open_index, kind, reasoning_origin=origin))
        return events

    def _on_reasoning(self, text: str) -> list[StreamEvent]:
        events = self._ensure("reasoning")
        self._reasoning += text
        self._chars += len(text)
        events.append(ReasoningDelta(self._open_index, text))
        return events

    def _on_text(self, text: str) -> list[StreamEvent]:
        if self._open != "text" and not text.strip():
            self._pending_ws += text  # never open a text block for ""/whitespace alone
            return []
        events = self._ensure("text")
        text, self._pending_ws = self._pending_ws + text, ""
        self._chars += len(text)
        events.append(TextDelta(self._open_index, text))
        return events

    def _on_tool_fragment(self, fragment: object, position: int) -> StreamError | None:
        """Buffer one fragment; a call whose arguments grew past the cap is an error."""
        if not isinstance(fragment, dict):
            return None
        index = fragment.get("index")
        frag_id = fragment.get("id")
        if not isinstance(index, int) or isinstance(index, bool):
            known = any(c.id == frag_id for c in self._calls.values())
            if isinstance(frag_id, str) and frag_id and not known:
                index = max(self._calls, default=-1) + 1
            else:
                index = self._last_call if self._last_call is not None else position
        call = self._calls.setdefault(index, _Call())
        self._last_call = index
        if isinstance(frag_id, str) and frag_id and call.id is None:
            call.id = frag_id
        function = fragment.get("function")
        if isinstance(function, dict):
            name = function.get("name")
            if isinstance(name, str) and name and call.name is None:
                call.name = name
            arguments = function.get("arguments")
            if isinstance(arguments, dict):
                arguments = json.dumps(arguments, ensure_ascii=False)
            if isinstance(arguments, str) and arguments:
                call.parts.append(arguments)
                call.size += len(arguments)
                if call.size > MAX_TOOL_ARGUMENT_CHARS:
                    message = (
                        f"{self.provider or 'the upstream'} sent tool-call arguments longer than "
                        f"{MAX_TOOL_ARGUMENT_CHARS} characters"
                    )
                    return StreamError(UpstreamProtocolError(message, provider=self.provider))
        return None

    # --- feeding ----------------------------------------------------------------------------

    def feed(self, payload: JSON) -> list[StreamEvent]:
        """One parsed ``data:`` chunk → events. An ``error`` payload ends the stream."""
        if self._done or not isinstance(payload, dict):
            return []
        fast = self._plain_text(payload)
        if fast is not None:
            return fast
        if payload.get("error"):
            self._done = True
            return [StreamError(error_from_payload(payload["error"], self.provider))]
        usage = usage_from_chat(payload.get("usage"))
        if usage is not None:
            self._usage = usage
        events: list[StreamEvent] = []
        choices = payload.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            if not isinstance(choice, dict) or choice.get("index", 0) not in (0, None):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if isinstance(reasoning, str) and reasoning:
                    events += self._on_reasoning(reasoning)
                content = delta.get("content")
                if isinstance(content, str) and content:
                    events += self._on_text(content)
                fragments = delta.get("tool_calls")
                for position, fragment in enumerate(fragments if isinstance(fragments, list) else []):
                    error = self._on_tool_fragment(fragment, position)
                    if error is not None:
                        self._done = True
                        return [*events, error]
            if choice.get("finish_reason") is not None:
                self._finish = choice["finish_reason"]
        return events

    def _plain_text(self, payload: JSON) -> list[StreamEvent] | None:
        """The bulk of a stream: one choice adding text to the open text block, nothing else.

        Returns what ``feed`` would, or None for any other chunk (``feed``'s general path).
        """
        choices = payload.get("choices")
        if self._open != "text" or type(choices) is not list or len(choices) != 1:
            return None
        choice = choices[0]
        if payload.get("usage") is not None or payload.get("error") or type(choice) is not dict:
            return None
        delta = choice.get("delta")
        if choice.get("finish_reason") is not None or choice.get("index", 0) not in (0, None):
            return None
        if type(delta) is not dict or delta.get("tool_calls"):
            return None
        content = delta.get("content")
        if (
            type(content) is not str
            or not content
            or delta.get("reasoning_content")
            or delta.get("reasoning")
        ):
            return None
        text, self._pending_ws = self._pending_ws + content, ""
        self._chars += len(text)
        return [TextDelta(self._open_index, text)]

    def _tool_blocks(self) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        seen: set[str] = set()
        for chat_index in sorted(self._calls):
            call = self._calls[chat_index]
            if not call.name:
                continue  # a fragment list with no name cannot be called; drop it
            call_id = sanitize_tool_id(call.id) if call.id else ""
            if not call_id or call_id in seen:
                call_id = generate_tool_id(self.message_id, chat_index)
            seen.add(call_id)
            text = call.arguments
            arguments = parse_arguments(text)
            args_json = text.strip() if arguments and text.strip() else "{}"
            index = self._next_index
            self._next_index += 1
            self._chars += len(args_json)
            events += [
                BlockStart(index, "tool_call", tool_id=call_id, tool_name=call.name),
                ToolArgsDelta(index, args_json),
                BlockStop(index),
            ]
        return events

    def finish(self) -> list[StreamEvent]:
        """On ``[DONE]`` or EOF: close blocks, emit buffered tool calls, then the message end."""
        if self._done:
            return []
        self._done = True
        events = self._close()
        tools = self._tool_blocks()
        events += tools
        usage = self._usage or Usage(output_tokens=self._chars // 4, estimated=True)
        events.append(MessageDelta(stop_reason=stop_reason(self._finish, bool(tools)), usage=usage))
        events.append(MessageStop())
        return events
