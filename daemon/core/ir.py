"""The internal representation of requests, responses, stream events and usage.

Protocol-neutral value types. Adapters (client side) and providers (upstream side) convert only
to and from these. Data that must round-trip through one provider but means nothing to others
(thinking signatures, server-tool blocks) rides in typed fields or in ``OpaquePart``.
This module does no I/O and imports nothing of the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# "system" messages may sit inside the conversation (Claude Code sends one in messages[]).
Role = Literal["user", "assistant", "system"]
Protocol = Literal["anthropic", "chat", "responses"]
StopReason = Literal[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "refusal",
    "pause_turn",
    "context_window_exceeded",
]
ToolChoiceMode = Literal["auto", "any", "none", "tool"]
JSON = dict[str, Any]


@dataclass(slots=True)
class TextPart:
    text: str
    cache_control: JSON | None = None


@dataclass(slots=True)
class ImagePart:
    """An image, either inline base64 (``data`` + ``media_type``) or by ``url``."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    cache_control: JSON | None = None


@dataclass(slots=True)
class DocumentPart:
    """A document (PDF or plain text), inline base64/text or by ``url``."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    title: str | None = None
    cache_control: JSON | None = None


@dataclass(slots=True)
class ToolCallPart:
    """A model's request to call a tool. ``arguments`` is the parsed JSON object."""

    id: str
    name: str
    arguments: JSON = field(default_factory=dict)
    cache_control: JSON | None = None


@dataclass(slots=True)
class ToolResultPart:
    call_id: str
    content: list[TextPart | ImagePart | DocumentPart] = field(default_factory=list)
    is_error: bool = False
    cache_control: JSON | None = None


ReasoningOrigin = Literal["anthropic", "gateway", "openai", "other"]


@dataclass(slots=True)
class ReasoningPart:
    """Model reasoning. ``signature``/``redacted`` only mean something to ``origin``'s provider.

    ``origin == "gateway"`` marks reasoning the gateway synthesised from a non-Anthropic
    upstream; such blocks carry a ``gw:``-prefixed signature and are never sent to Anthropic.
    """

    text: str = ""
    signature: str | None = None
    redacted: str | None = None
    origin: ReasoningOrigin = "anthropic"


@dataclass(slots=True)
class OpaquePart:
    """A block only its own protocol understands (server-tool artefacts, search results, …).

    Forwarded verbatim to an upstream of the same protocol; dropped deliberately elsewhere.
    """

    protocol: Protocol
    data: JSON


Part = TextPart | ImagePart | DocumentPart | ToolCallPart | ToolResultPart | ReasoningPart | OpaquePart


@dataclass(slots=True)
class Message:
    role: Role
    parts: list[Part] = field(default_factory=list)


@dataclass(slots=True)
class ToolSpec:
    """A tool the model may call. ``kind == "custom"`` is a freeform-input tool (Responses)."""

    name: str
    description: str = ""
    parameters: JSON = field(default_factory=lambda: {"type": "object", "properties": {}})
    kind: Literal["function", "custom", "builtin"] = "function"
    strict: bool | None = None
    # The tool exactly as the client sent it, for same-protocol upstreams and for builtin tools.
    raw: JSON | None = None


@dataclass(slots=True)
class ToolChoice:
    mode: ToolChoiceMode = "auto"
    name: str | None = None
    disable_parallel: bool = False


@dataclass(slots=True)
class ThinkingConfig:
    """Reasoning request. ``budget_tokens`` (Anthropic enabled) or ``effort`` (low…max)."""

    enabled: bool = True
    budget_tokens: int | None = None
    effort: str | None = None
    adaptive: bool = False


@dataclass(slots=True)
class GatewayRequest:
    protocol: Protocol
    model: str
    messages: list[Message]
    system: list[TextPart] = field(default_factory=list)
    max_tokens: int | None = None
    stream: bool = False
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    thinking: ThinkingConfig | None = None
    # JSON-schema output request: {"name": str, "schema": {...}, "strict": bool|None}
    response_format: JSON | None = None
    user: str | None = None
    # Client-protocol fields with no neutral meaning, kept for same-protocol upstreams.
    extra: JSON = field(default_factory=dict)


@dataclass(slots=True)
class Usage:
    """Token counts, cache-aware. ``input_tokens`` excludes cache reads and writes.

    ``cache_write_tokens`` is the total written to cache; ``cache_write_1h_tokens`` the part of
    it written with a 1-hour lifetime (Anthropic's ``cache_creation.ephemeral_1h_input_tokens``),
    the rest has the 5-minute lifetime. Last, so positional construction keeps its meaning.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False
    cache_write_1h_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def cache_write_5m_tokens(self) -> int:
        """The cache writes with the 5-minute lifetime (total minus the 1-hour part)."""
        return max(0, self.cache_write_tokens - self.cache_write_1h_tokens)

    def copy_from(self, other: Usage) -> None:
        """Take every count of ``other`` (the record's usage object is shared, so copied into)."""
        for name in Usage.__dataclass_fields__:
            setattr(self, name, getattr(other, name))


@dataclass(slots=True)
class GatewayResponse:
    id: str
    model: str
    parts: list[Part]
    stop_reason: StopReason | None = "end_turn"
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)


# --- stream events -------------------------------------------------------------------------
# Block-structured: blocks are sequential, each opened by BlockStart and closed by BlockStop
# before the next opens, indices strictly increasing from 0.


@dataclass(slots=True)
class MessageStart:
    id: str
    model: str
    usage: Usage = field(default_factory=Usage)


BlockKind = Literal["text", "reasoning", "tool_call", "opaque"]


@dataclass(slots=True)
class BlockStart:
    index: int
    kind: BlockKind
    # tool_call: id + name; reasoning: origin/redacted; opaque: the full block
    tool_id: str | None = None
    tool_name: str | None = None
    reasoning_origin: ReasoningOrigin = "anthropic"
    redacted: str | None = None
    opaque: JSON | None = None


@dataclass(slots=True)
class TextDelta:
    index: int
    text: str


@dataclass(slots=True)
class ReasoningDelta:
    index: int
    text: str


@dataclass(slots=True)
class SignatureDelta:
    index: int
    signature: str


@dataclass(slots=True)
class ToolArgsDelta:
    index: int
    partial_json: str


@dataclass(slots=True)
class BlockStop:
    index: int


@dataclass(slots=True)
class MessageDelta:
    stop_reason: StopReason | None
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)


@dataclass(slots=True)
class MessageStop:
    pass


@dataclass(slots=True)
class StreamError:
    """The upstream failed after the stream started. ``error`` is a GatewayError."""

    error: Exception


StreamEvent = (
    MessageStart
    | BlockStart
    | TextDelta
    | ReasoningDelta
    | SignatureDelta
    | ToolArgsDelta
    | BlockStop
    | MessageDelta
    | MessageStop
    | StreamError
)
