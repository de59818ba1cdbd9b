"""The Anthropic wire's pass-through edits: gateway-signed thinking blocks never go to Anthropic.

Usage of relayed bodies and streams is ``usage``'s."""

from __future__ import annotations

from typing import Any


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
