"""What a simulated model answers, independent of the wire it is written in.

Owns ``Reply`` (text and thinking deltas, one tool call, usage, ids), ``Call`` (one parsed request
as a script sees it), ``Stream`` (the SSE frames a wire renders, with where a mid-stream fault
cuts them), the ``Script`` protocol and ``Rejected`` (a script's way to answer with an HTTP
error instead), and small shared helpers (delta splitting, text of a content
field, the latest user turn). Does not own any wire's shape (``anthropic``, ``chat``,
``responses``) nor serving (``upstream``, ``fast``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Wire = Literal["anthropic", "chat", "responses"]


@dataclass
class ToolCall:
    """One tool call. ``custom``: a Responses custom tool whose input is ``args["input"]``."""

    name: str
    args: dict[str, Any]
    id: str
    chunks: int = 3  # how many deltas the arguments are streamed in
    custom: bool = False

    @property
    def arguments(self) -> str:
        """The arguments as JSON text (a Responses custom tool carries ``args["input"]`` instead)."""
        return json.dumps(self.args)


@dataclass
class Reply:
    """One answer. Each element of ``text`` / ``thinking`` is one streamed delta."""

    id: str
    model: Any
    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    signature: str = ""  # Anthropic's thinking signature; Responses' reasoning encrypted_content
    tool: ToolCall | None = None
    usage: dict[str, Any] = field(default_factory=dict)  # the wire's own final usage object
    headers: dict[str, str] = field(default_factory=dict)
    created: int = 0
    always_usage: bool = False  # Chat: send the usage chunk even when the client did not ask


@dataclass
class Call:
    """One model request as a script sees it."""

    wire: Wire
    body: dict[str, Any]
    raw: bytes
    provider: str | None  # the first path segment when the path is ``/<provider>/v1/…``
    number: int  # 1 for the first request the upstream served
    headers: Mapping[str, str] = field(default_factory=dict)  # case-insensitive when served


@dataclass
class Stream:
    """A rendered SSE body: ``frames[cut:]`` are replaced by ``torn`` when a fault drops it."""

    frames: list[bytes]
    cut: int
    torn: bytes = b""
    unpaced: int = 0  # frames sent before the first pause (a script's per-delta delay)


class Rejected(Exception):
    """Raised by ``Script.reply``: the upstream answers ``status`` with the wire's error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Script(Protocol):
    """A simulated model: one ``Reply`` per request, and how long to think before answering."""

    def reply(self, call: Call) -> Reply: ...

    def latency(self, wire: Wire) -> float: ...

    def delay(self, call: Call) -> float: ...


def dumps(obj: Any) -> str:
    """JSON as the simulated provider writes it (``json.dumps``' default spacing; tests match it)."""
    return json.dumps(obj)


def compact(frame: bytes) -> bytes:
    """The same SSE frame with compact JSON (``fast`` serves these: fewer bytes per event)."""
    lines = []
    for line in frame.decode().split("\n"):
        if line.startswith("data: {"):
            line = "data: " + json.dumps(json.loads(line[6:]), separators=(",", ":"))
        lines.append(line)
    return "\n".join(lines).encode()


def sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {dumps(data)}\n\n".encode()


def pieces(text: str, n: int) -> list[str]:
    """``text`` in at most ``n`` nearly equal pieces (none for an empty text)."""
    if not text:
        return []
    size = max(1, -(-len(text) // n))
    return [text[i : i + size] for i in range(0, len(text), size)]


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(b.get("text", ""))
            for b in content
            if isinstance(b, dict) and b.get("type") in ("text", "input_text", "output_text")
        )
    return ""


def latest_turn(call: Call) -> tuple[str, str | None]:
    """(text of the latest user turn, tool result text if the request ends with one)."""
    if call.wire == "responses":
        return _latest_input(call.body.get("input"))
    for msg in reversed(call.body.get("messages") or []):
        role = msg.get("role")
        if role == "tool":
            return "", text_of(msg.get("content"))
        if role != "user":
            continue
        content = msg.get("content")
        if isinstance(content, list):
            results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
            if results:
                return "", text_of(results[-1].get("content"))
        return text_of(content), None
    return "", None


def _latest_input(items: Any) -> tuple[str, str | None]:
    if isinstance(items, str):
        return items, None
    for item in reversed(items or []):
        kind = item.get("type", "message")
        if kind in ("function_call_output", "custom_tool_call_output"):
            out = item.get("output")
            return "", out if isinstance(out, str) else text_of(out)
        if kind == "message" and item.get("role") == "user":
            return text_of(item.get("content")), None
    return "", None
