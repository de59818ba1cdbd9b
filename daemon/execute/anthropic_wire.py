"""The Anthropic wire as seen by pass-through: reading usage from relayed bytes and the
deliberate body edits (gateway-signed thinking blocks never go to Anthropic)."""

from __future__ import annotations

import json
from typing import Any

from ..core.ir import Usage
from ..providers.sse import SSEParser


def usage_from_anthropic(u: dict[str, Any], into: Usage) -> None:
    """Apply an Anthropic ``usage`` object; later values overwrite (message_delta semantics)."""
    if "input_tokens" in u and u["input_tokens"] is not None:
        into.input_tokens = int(u["input_tokens"])
    if "output_tokens" in u and u["output_tokens"] is not None:
        into.output_tokens = int(u["output_tokens"])
    if u.get("cache_read_input_tokens") is not None:
        into.cache_read_tokens = int(u["cache_read_input_tokens"])
    if u.get("cache_creation_input_tokens") is not None:
        into.cache_write_tokens = int(u["cache_creation_input_tokens"])
    details = u.get("output_tokens_details")
    if isinstance(details, dict) and details.get("thinking_tokens") is not None:
        into.reasoning_tokens = int(details["thinking_tokens"])


class AnthropicUsageTap:
    """Reads usage, the stop reason and in-stream errors from relayed SSE bytes."""

    __slots__ = ("error", "finished", "parser", "stop_reason", "usage")

    _WANTED = frozenset({"message_start", "message_delta", "message_stop", "error"})

    def __init__(self) -> None:
        self.parser = SSEParser()
        self.usage = Usage()
        self.stop_reason: str | None = None
        self.finished = False
        self.error: str | None = None

    def feed(self, chunk: bytes) -> None:
        for ev in self.parser.feed(chunk):
            if ev.event not in self._WANTED:
                continue
            try:
                data = json.loads(ev.data)
            except ValueError:
                continue
            if ev.event == "message_start":
                usage_from_anthropic(data.get("message", {}).get("usage") or {}, self.usage)
            elif ev.event == "message_delta":
                usage_from_anthropic(data.get("usage") or {}, self.usage)
                self.stop_reason = (data.get("delta") or {}).get("stop_reason")
            elif ev.event == "message_stop":
                self.finished = True
            else:
                err = data.get("error") or {}
                self.error = f"{err.get('type')}: {err.get('message')}"


def strip_gateway_thinking(body: dict[str, Any]) -> bool:
    """Remove thinking blocks the gateway synthesised (``gw:`` signatures). True if changed."""
    changed = False
    for msg in body.get("messages") or []:
        content = msg.get("content") if isinstance(msg, dict) else None
        if not isinstance(content, list):
            continue
        kept = [
            b
            for b in content
            if not (
                isinstance(b, dict)
                and b.get("type") == "thinking"
                and str(b.get("signature", "")).startswith("gw:")
            )
        ]
        if len(kept) != len(content):
            msg["content"] = kept
            changed = True
    return changed


def anthropic_body_usage(body: dict[str, Any], into: Usage) -> None:
    usage_from_anthropic(body.get("usage") or {}, into)
