"""IR stream events → OpenAI Responses SSE bytes (protocols.md §2.6, §4.6(b)(c)).

``ResponsesSSEWriter`` turns the block-structured IR stream into Responses events, one output
item per IR block: text → ``message``, reasoning → ``reasoning`` (Anthropic thinking packed into
``encrypted_content`` so it round-trips), tool call → ``function_call`` or, for a custom tool,
``custom_tool_call`` (IR arguments arrive as JSON ``{"input": "..."}``, so they are buffered and
the decoded ``input`` is emitted once at block stop). Every event carries ``sequence_number``
(0, 1, 2, …); items carry ``output_index`` (0, 1, 2, …). The stream ends with
``response.completed`` / ``response.incomplete`` / ``response.failed`` holding the full
Response object. Opaque blocks (Anthropic server tools) have no Responses form and are skipped.
Does not decide HTTP status or headers. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...core import jsonfast
from ...core.ir import (
    JSON,
    BlockStart,
    BlockStop,
    GatewayRequest,
    MessageDelta,
    MessageStart,
    MessageStop,
    ReasoningDelta,
    SignatureDelta,
    StopReason,
    StreamError,
    StreamEvent,
    TextDelta,
    ToolArgsDelta,
    Usage,
)
from ..openai_common import merge_usage, now
from ..openai_errors import failure_code, failure_message
from .objects import (
    ToolView,
    arguments_json,
    custom_input,
    item_id,
    message_item,
    outcome,
    reasoning_item,
    response_id,
    response_object,
)


@dataclass(slots=True)
class _Item:
    kind: str  # "text" | "reasoning" | "tool_call" | "skip"
    output_index: int
    id: str
    text: str = ""
    signature: str = ""
    redacted: str | None = None
    replayable: bool = False
    summary_open: bool = False
    call_id: str = ""
    name: str = ""
    custom: bool = False
    chunks: list[str] = field(default_factory=list)


class ResponsesSSEWriter:
    """Renders IR stream events as Responses SSE frames for one client request.

    ``response_id``/``created_at`` are normally taken from ``MessageStart`` and the clock; pass
    them to make output deterministic (tests).
    """

    def __init__(
        self, request: GatewayRequest, *, response_id: str | None = None, created_at: int | None = None
    ) -> None:
        self.request = request
        self._tools = ToolView(request)
        self._resp_id = response_id
        self._created_at = created_at if created_at is not None else now()
        self._seq = 0
        self._started = False
        self._finished = False
        self._output: list[JSON] = []
        self._current: _Item | None = None
        self._start_usage = Usage()
        self._final_usage: Usage | None = None
        self._stop: StopReason | None = "end_turn"

    @property
    def finished(self) -> bool:
        """True once a terminal event (completed / incomplete / failed) was written."""
        return self._finished

    @property
    def resp_id(self) -> str:
        if self._resp_id is None:
            self._resp_id = response_id(None)
        return self._resp_id

    # --- framing ------------------------------------------------------------------------------

    def _event(self, kind: str, payload: JSON) -> bytes:
        data = {"type": kind, "sequence_number": self._seq, **payload}
        self._seq += 1
        text = jsonfast.dumps_str(data)
        return f"event: {kind}\ndata: {text}\n\n".encode()

    def _response(
        self, status: str, *, error: JSON | None = None, incomplete_details: JSON | None = None
    ) -> JSON:
        usage = merge_usage(self._start_usage, self._final_usage) if status != "in_progress" else None
        return response_object(
            self.request,
            resp_id=self.resp_id,
            created_at=self._created_at,
            status=status,
            output=list(self._output),
            usage=usage,
            error=error,
            incomplete_details=incomplete_details,
        )

    def _ensure_started(self, raw_id: str | None = None) -> bytes:
        if self._started:
            return b""
        self._started = True
        if self._resp_id is None:
            self._resp_id = response_id(raw_id)
        snapshot = self._response("in_progress")
        return self._event("response.created", {"response": snapshot}) + self._event(
            "response.in_progress", {"response": snapshot}
        )

    def keepalive(self) -> bytes:
        """A benign ``response.in_progress`` event: resets Codex's idle timer during long waits."""
        if self._finished:
            return b""
        return self._ensure_started() or self._event(
            "response.in_progress", {"response": self._response("in_progress")}
        )

    # --- events -------------------------------------------------------------------------------

    def render(self, event: StreamEvent) -> bytes:
        """One IR event → zero or more SSE frames (``b""`` when it has no Responses form)."""
        if self._finished:
            return b""
        if isinstance(event, MessageStart):
            self._start_usage = event.usage
            return self._ensure_started(event.id)
        out = self._ensure_started()
        if isinstance(event, BlockStart):
            return out + self._close() + self._open(event)
        if isinstance(event, TextDelta | ReasoningDelta | SignatureDelta | ToolArgsDelta):
            return out + self._delta(event)
        if isinstance(event, BlockStop):
            return out + self._close()
        if isinstance(event, MessageDelta):
            self._stop = event.stop_reason
            self._final_usage = event.usage
            return out
        if isinstance(event, MessageStop):
            return out + self._close() + self._terminal()
        return out + self._failed(event)

    def _open(self, ev: BlockStart) -> bytes:
        index = len(self._output)
        if ev.kind == "text":
            cur = _Item("text", index, item_id("msg", self.resp_id, index))
            self._current = cur
            added = self._added(message_item(cur.id, [], done=False))
            part = {"type": "output_text", "text": "", "annotations": []}
            return added + self._event(
                "response.content_part.added",
                {"item_id": cur.id, "output_index": index, "content_index": 0, "part": part},
            )
        if ev.kind == "reasoning":
            cur = _Item("reasoning", index, item_id("rs", self.resp_id, index))
            cur.redacted, cur.replayable = ev.redacted, ev.reasoning_origin == "anthropic"
            self._current = cur
            return self._added({"id": cur.id, "type": "reasoning", "summary": []})
        if ev.kind == "tool_call":
            name = ev.tool_name or ""
            cur = _Item("tool_call", index, "", call_id=ev.tool_id or "", name=name)
            cur.custom = self._tools.is_custom(name)
            cur.id = item_id("ctc" if cur.custom else "fc", self.resp_id, index)
            self._current = cur
            return self._added(self._tools.item(cur.id, cur.call_id, name, "", done=False))
        self._current = _Item("skip", -1, "")
        return b""

    def _added(self, item: JSON) -> bytes:
        assert self._current is not None
        payload = {"output_index": self._current.output_index, "item": item}
        return self._event("response.output_item.added", payload)

    def _delta(self, ev: TextDelta | ReasoningDelta | SignatureDelta | ToolArgsDelta) -> bytes:
        cur = self._current
        if cur is None or cur.kind == "skip":
            return b""
        index, ids = cur.output_index, {"item_id": cur.id}
        if isinstance(ev, TextDelta) and cur.kind == "text":
            cur.text += ev.text
            payload = {**ids, "output_index": index, "content_index": 0, "delta": ev.text, "logprobs": []}
            return self._event("response.output_text.delta", payload)
        if isinstance(ev, ReasoningDelta) and cur.kind == "reasoning":
            out = b""
            if not cur.summary_open:
                cur.summary_open = True
                part = {"type": "summary_text", "text": ""}
                out = self._event(
                    "response.reasoning_summary_part.added",
                    {**ids, "output_index": index, "summary_index": 0, "part": part},
                )
            cur.text += ev.text
            payload = {**ids, "output_index": index, "summary_index": 0, "delta": ev.text}
            return out + self._event("response.reasoning_summary_text.delta", payload)
        if isinstance(ev, SignatureDelta) and cur.kind == "reasoning":
            cur.signature += ev.signature
            return b""
        if isinstance(ev, ToolArgsDelta) and cur.kind == "tool_call":
            cur.chunks.append(ev.partial_json)
            if cur.custom:
                return b""  # decoded once at block stop
            payload = {**ids, "output_index": index, "delta": ev.partial_json}
            return self._event("response.function_call_arguments.delta", payload)
        return b""

    def _close(self) -> bytes:
        cur, self._current = self._current, None
        if cur is None or cur.kind == "skip":
            return b""
        base: JSON = {"item_id": cur.id, "output_index": cur.output_index}
        if cur.kind == "text":
            out = self._text_done(cur, base)
            item = message_item(cur.id, [cur.text], done=True)
        elif cur.kind == "reasoning":
            out = self._summary_done(cur, base) if cur.summary_open else b""
            item = reasoning_item(
                cur.id, cur.text, signature=cur.signature, redacted=cur.redacted, replayable=cur.replayable
            )
        elif cur.custom:
            text = custom_input("".join(cur.chunks))
            out = (
                self._event("response.custom_tool_call_input.delta", {**base, "delta": text}) if text else b""
            )
            out += self._event("response.custom_tool_call_input.done", {**base, "input": text})
            item = self._tools.item(cur.id, cur.call_id, cur.name, text, done=True)
        else:
            args = arguments_json("".join(cur.chunks))
            item = self._tools.item(cur.id, cur.call_id, cur.name, args, done=True)
            done = {**base, "arguments": args, "name": item["name"]}
            out = self._event("response.function_call_arguments.done", done)
        self._output.append(item)
        return out + self._event(
            "response.output_item.done", {"output_index": cur.output_index, "item": item}
        )

    def _text_done(self, cur: _Item, base: JSON) -> bytes:
        part = {"type": "output_text", "text": cur.text, "annotations": []}
        done = {**base, "content_index": 0, "text": cur.text, "logprobs": []}
        return self._event("response.output_text.done", done) + self._event(
            "response.content_part.done", {**base, "content_index": 0, "part": part}
        )

    def _summary_done(self, cur: _Item, base: JSON) -> bytes:
        part = {"type": "summary_text", "text": cur.text}
        done = {**base, "summary_index": 0, "text": cur.text}
        return self._event("response.reasoning_summary_text.done", done) + self._event(
            "response.reasoning_summary_part.done", {**base, "summary_index": 0, "part": part}
        )

    def _terminal(self) -> bytes:
        self._finished = True
        status, details = outcome(self._stop)
        response = self._response(status, incomplete_details=details)
        return self._event(f"response.{status}", {"response": response})

    def _failed(self, event: StreamError) -> bytes:
        self._finished = True
        self._current = None
        error = {"code": failure_code(event.error), "message": failure_message(event.error)}
        return self._event("response.failed", {"response": self._response("failed", error=error)})
