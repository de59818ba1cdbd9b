"""A Gemini ``streamGenerateContent?alt=sse`` stream → IR stream events.

Each SSE ``data:`` is a whole ``GenerateContentResponse`` holding the next parts. Thought parts
stream as one reasoning block, text parts as one text block (one block open at a time, indices
from 0); a ``functionCall`` part arrives whole and becomes a complete tool-call block at once. A
``thoughtSignature`` closes the open reasoning block with it as the block's signature (or opens an
empty reasoning block to carry it) just before the part it came on (``common``). The candidate's
``finishReason`` marks the end; ``usageMetadata`` is cumulative, the last one wins. An ``error``
object ends the stream with the mapped error. The stream has no terminal marker: the caller
reads to EOF and ``finish`` reports a stream cut before any ``finishReason``. No I/O.
"""

from __future__ import annotations

import json
import uuid

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
from ..toolids import gateway_signature
from .common import stop_reason, usage_from_gemini, wrap_signature
from .errors import error_from_payload
from .upstream_response import call_id, candidate_parts, first_candidate


class GeminiStreamDecoder:
    """Feed it parsed stream payloads; it returns IR events (``start`` first, ``finish`` last)."""

    def __init__(self, model: str, provider: str | None = None) -> None:
        self.model = model
        self.provider = provider
        self.message_id = f"msg_{uuid.uuid4().hex[:24]}"
        self._seed: str | None = None
        self._next = 0
        self._open: BlockKind | None = None
        self._open_index = -1
        self._thought: list[str] = []
        self._finish: object = None
        self._usage: Usage | None = None
        self._calls = 0
        self._seen: set[str] = set()
        self._parts = 0
        self._chars = 0
        self._done = False
        self._blocked = False

    @property
    def saw_finish(self) -> bool:
        return self._finish is not None or self._blocked

    def start(self) -> list[StreamEvent]:
        return [MessageStart(id=self.message_id, model=self.model, usage=Usage())]

    def _close(self, signature: str | None = None) -> list[StreamEvent]:
        if self._open is None:
            return []
        events: list[StreamEvent] = []
        if self._open == "reasoning":
            text = "".join(self._thought)
            sig = wrap_signature(signature) if signature is not None else gateway_signature(text)
            events.append(SignatureDelta(self._open_index, sig))
        events.append(BlockStop(self._open_index))
        self._open = None
        self._thought = []
        return events

    def _open_block(self, kind: BlockKind) -> list[StreamEvent]:
        if self._open == kind:
            return []
        events = self._close()
        self._open, self._open_index = kind, self._next
        self._next += 1
        events.append(BlockStart(self._open_index, kind, reasoning_origin="anthropic"))
        return events

    def _signed(self, signature: str) -> list[StreamEvent]:
        """Close the reasoning the signature belongs to (an empty one when none is open)."""
        if self._open != "reasoning":
            events = self._open_block("reasoning")
            return events + self._close(signature)
        return self._close(signature)

    def _part(self, part: JSON) -> list[StreamEvent]:
        index = self._parts
        self._parts += 1
        signature = part.get("thoughtSignature")
        signature = signature if isinstance(signature, str) and signature else None
        text = part.get("text")
        events: list[StreamEvent] = []
        if part.get("thought") is True:
            if isinstance(text, str) and text:
                events += self._open_block("reasoning")
                self._thought.append(text)
                self._chars += len(text)
                events.append(ReasoningDelta(self._open_index, text))
            if signature is not None:
                events += self._signed(signature)
            return events
        if signature is not None:
            events += self._signed(signature)
        elif self._open == "reasoning":
            events += self._close()
        function = part.get("functionCall")
        if isinstance(function, dict) and isinstance(function.get("name"), str) and function["name"]:
            events += self._close()
            args = function.get("args")
            arguments = json.dumps(args if isinstance(args, dict) else {}, ensure_ascii=False)
            block = self._next
            self._next += 1
            self._calls += 1
            self._chars += len(arguments)
            tool_id = call_id(function.get("id"), self._seed or self.message_id, index, self._seen)
            events += [
                BlockStart(block, "tool_call", tool_id=tool_id, tool_name=function["name"]),
                ToolArgsDelta(block, arguments),
                BlockStop(block),
            ]
        elif isinstance(text, str) and text:
            events += self._open_block("text")
            self._chars += len(text)
            events.append(TextDelta(self._open_index, text))
        return events

    def feed(self, payload: JSON) -> list[StreamEvent]:
        if self._done or not isinstance(payload, dict):
            return []
        if payload.get("error"):
            self._done = True
            return [StreamError(error_from_payload(payload["error"], self.provider))]
        if self._seed is None and isinstance(payload.get("responseId"), str):
            self._seed = payload["responseId"]
        usage = usage_from_gemini(payload.get("usageMetadata"))
        if usage is not None:
            self._usage = usage
        candidate = first_candidate(payload)
        if candidate is None:
            feedback = payload.get("promptFeedback")
            if isinstance(feedback, dict) and feedback.get("blockReason"):
                self._blocked = True
            return []
        events: list[StreamEvent] = []
        for part in candidate_parts(candidate):
            events += self._part(part)
        if candidate.get("finishReason") is not None:
            self._finish = candidate["finishReason"]
        return events

    def finish(self) -> list[StreamEvent]:
        if self._done:
            return []
        if not self.saw_finish:
            raise UpstreamProtocolError(
                f"{self.provider or 'Gemini'} closed the stream before it finished", provider=self.provider
            )
        self._done = True
        events = self._close()
        usage = self._usage or Usage(output_tokens=self._chars // 4, estimated=True)
        reason = (
            "refusal"
            if self._blocked and self._finish is None
            else stop_reason(self._finish, self._calls > 0)
        )
        events.append(MessageDelta(stop_reason=reason, usage=usage))
        events.append(MessageStop())
        return events
