"""Reasoning items a Responses client carries back stay with the model that made them.

Codex sends its earlier ``reasoning`` items (``encrypted_content``) back in ``input``: each is the
state of the model that produced it. When routing serves a conversation from more than one model
(routing switches only at a user turn), the gateway forwards to the serving model only the items
that model produced, and drops the others deliberately: another model cannot read them, and its
prompt-cache prefix was built without them. Which model produced the item at a client position is
the caller's knowledge (``keep``). Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def drop_reasoning_items(body: dict[str, Any], keep: Callable[[int], bool]) -> bool:
    """Remove the ``reasoning`` items of ``input`` whose client position ``keep`` refuses."""
    items = body.get("input")
    if not isinstance(items, list):
        return False
    kept = [
        item
        for i, item in enumerate(items)
        if not (isinstance(item, dict) and item.get("type") == "reasoning") or keep(i)
    ]
    if len(kept) == len(items):
        return False
    body["input"] = kept
    return True
