"""Transcripts → redacted, compact entries ready to be shown to a summarising model.

Accepts the three shapes a saved conversation comes in: an Anthropic Messages body
(``messages`` + optional ``system``; Chat-style ``tool`` messages and ``tool_calls`` are read
too), an OpenAI Responses body (``input`` items + optional ``instructions``) and a Claude Code
session file (JSONL, one record per line: ``user`` / ``assistant`` / ``summary`` records).
Tool calls become one line (name and truncated arguments), tool results their head (with the
size of what was cut), thinking is dropped and Claude Code's ``<system-reminder>`` blocks are
elided. Every text goes through ``storage.redact`` here, before anything can be sent.
Pure; raises ``InvalidRequest`` for input it cannot read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import InvalidRequest
from ..storage.redact import redact

TOOL_ARGS_CHARS = 300
TOOL_RESULT_CHARS = 600
SYSTEM_CHARS = 4_000
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)
_SKIPPED_BLOCKS = frozenset({"thinking", "redacted_thinking", "reasoning"})


@dataclass(frozen=True, slots=True)
class Entry:
    role: str
    text: str

    def render(self) -> str:
        return f"[{self.role}] {self.text}"


@dataclass(slots=True)
class Transcript:
    entries: list[Entry] = field(default_factory=list)
    # Entries whose text had a secret masked.
    redacted: int = 0

    def add(self, role: str, text: str, limit: int | None = None) -> None:
        """Add one entry: reminders elided, secrets masked (before any clipping), clipped."""
        text = _REMINDER.sub("[system reminder omitted]", text).strip()
        if not text:
            return
        clean = redact(text)
        if clean != text:
            self.redacted += 1
        self.entries.append(Entry(role, _clip(clean, limit) if limit is not None else clean))

    @property
    def chars(self) -> int:
        return sum(len(e.render()) + 1 for e in self.entries)


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more chars]"


def _args(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content if isinstance(content, list) else []:
        if isinstance(block, dict) and isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif isinstance(block, dict) and block.get("type") in ("image", "input_image"):
            parts.append("[image]")
    return "\n".join(parts)


def _call(out: Transcript, role: str, name: object, args: object) -> None:
    out.add(role, f"→ tool call {name}({_args(args)})", TOOL_ARGS_CHARS)


def _result(out: Transcript, content: object, is_error: bool = False) -> None:
    label = "tool result (error)" if is_error else "tool result"
    out.add("tool", f"← {label}: {_text_of(content)}", TOOL_RESULT_CHARS)


def _anthropic_block(out: Transcript, role: str, block: object) -> None:
    if not isinstance(block, dict):
        return
    kind = block.get("type")
    if kind in _SKIPPED_BLOCKS:
        return
    if kind == "text":
        out.add(role, str(block.get("text", "")))
    elif kind in ("tool_use", "server_tool_use"):
        _call(out, role, block.get("name"), block.get("input", {}))
    elif kind == "tool_result":
        _result(out, block.get("content"), bool(block.get("is_error")))
    elif kind in ("image", "document"):
        out.add(role, f"[{kind}]")
    elif isinstance(kind, str):
        out.add(role, f"[{kind} block]")


def _message(out: Transcript, msg: object, path: str) -> None:
    if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
        raise InvalidRequest(f"{path}: expected a message object with a role", param=path)
    role, content = msg["role"], msg.get("content")
    if role == "tool":  # Chat Completions
        _result(out, content)
        return
    if isinstance(content, str):
        out.add(role, content)
    elif isinstance(content, list):
        for block in content:
            _anthropic_block(out, role, block)
    for call in msg.get("tool_calls") or []:  # Chat Completions
        fn = call.get("function", {}) if isinstance(call, dict) else {}
        _call(out, role, fn.get("name"), fn.get("arguments", ""))


def _system(out: Transcript, system: object) -> None:
    text = _text_of(system)
    if text.strip():
        out.add("system", text, SYSTEM_CHARS)


def _responses_item(out: Transcript, item: object) -> None:
    if not isinstance(item, dict):
        return
    kind = item.get("type", "message")
    if kind == "message":
        role = {"developer": "system"}.get(str(item.get("role")), str(item.get("role", "user")))
        out.add(role, _text_of(item.get("content")))
    elif kind in ("function_call", "custom_tool_call"):
        _call(out, "assistant", item.get("name"), item.get("arguments", item.get("input", "")))
    elif kind in ("function_call_output", "custom_tool_call_output"):
        output = item.get("output")
        _result(out, output if isinstance(output, str | list) else json.dumps(output))
    elif kind not in _SKIPPED_BLOCKS:
        out.add("assistant", f"[{kind}]")


def _jsonl_records(text: str) -> Iterable[dict[str, Any]]:
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a live session's last line may be cut short
        if isinstance(record, dict):
            yield record


def parse_claude_code_jsonl(text: str) -> Transcript:
    """A Claude Code session file (``~/.claude/projects/<project>/<session>.jsonl``)."""
    out = Transcript()
    for record in _jsonl_records(text):
        kind = record.get("type")
        if kind == "summary" and isinstance(record.get("summary"), str):
            out.add("note", "earlier summary: " + record["summary"])
        elif kind in ("user", "assistant") and isinstance(record.get("message"), dict):
            if record.get("isMeta"):
                continue
            msg = record["message"]
            _message(out, {"role": msg.get("role", kind), "content": msg.get("content")}, "jsonl")
    return out


def parse_transcript(body: dict[str, Any]) -> Transcript:
    """The transcript in a request body: ``messages``, ``input`` or ``jsonl`` (Claude Code)."""
    if isinstance(body.get("jsonl"), str):
        out = parse_claude_code_jsonl(body["jsonl"])
    elif isinstance(body.get("messages"), list):
        out = Transcript()
        _system(out, body.get("system"))
        for i, msg in enumerate(body["messages"]):
            _message(out, msg, f"messages.{i}")
    elif "input" in body:
        out = Transcript()
        _system(out, body.get("instructions"))
        items = body["input"]
        if isinstance(items, str):
            out.add("user", items)
        elif isinstance(items, list):
            for item in items:
                _responses_item(out, item)
        else:
            raise InvalidRequest("input: expected a string or a list of items", param="input")
    else:
        raise InvalidRequest(
            "expected a transcript: Anthropic `messages` (+ optional `system`), Responses `input` "
            "items, or a Claude Code session file's text in `jsonl`",
            param="messages",
        )
    if not out.entries:
        raise InvalidRequest("the transcript has nothing to compact", param="messages")
    return out
