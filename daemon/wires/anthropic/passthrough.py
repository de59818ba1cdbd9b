"""The Anthropic wire as seen by pass-through: the deliberate body edits (gateway-signed
thinking blocks never go to Anthropic) and usage from a buffered body. The stream tap is
``providers.usage_taps.AnthropicUsageTap``."""

from __future__ import annotations

from typing import Any

from ...core.ir import Usage
from ..usage_taps import usage_from_anthropic


def _gateway_thinking(block: object) -> bool:
    return (
        type(block) is dict
        and block.get("type") == "thinking"
        and str(block.get("signature", "")).startswith("gw:")
    )


def strip_gateway_thinking(body: dict[str, Any]) -> bool:
    """Remove thinking blocks the gateway synthesised (``gw:`` signatures). True if changed.

    Runs on every pass-through turn: a message's content list is only rebuilt when it holds
    such a block (almost never), so a long history costs one scan and no copies.
    """
    changed = False
    for msg in body.get("messages") or []:
        content = msg.get("content") if type(msg) is dict else None
        if type(content) is not list:
            continue
        for block in content:
            if type(block) is dict and block.get("type") == "thinking" and _gateway_thinking(block):
                break
        else:
            continue
        msg["content"] = [b for b in content if not _gateway_thinking(b)]
        changed = True
    return changed


def anthropic_body_usage(body: dict[str, Any], into: Usage) -> None:
    usage_from_anthropic(body.get("usage") or {}, into)
