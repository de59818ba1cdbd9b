"""The Anthropic wire as seen by pass-through: the deliberate body edits (gateway-signed
thinking blocks never go to Anthropic) and usage from a buffered body. The stream tap is
``providers.usage_taps.AnthropicUsageTap``."""

from __future__ import annotations

from typing import Any

from ..core.ir import Usage
from ..providers.usage_taps import usage_from_anthropic


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
