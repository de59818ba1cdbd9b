"""The tools a translated request offers upstream: each name once, in the client's order.

Every upstream codec renders a request's ``ToolSpec`` list into its own shape; ``render_tools``
is the one loop they share: the first tool of each name that the codec can render (``render``
returns None for what it leaves out, e.g. built-in tools) is kept. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from ..core.ir import ToolSpec

T = TypeVar("T")


def render_tools(tools: Iterable[ToolSpec], render: Callable[[ToolSpec], T | None]) -> list[T]:
    """``render(tool)`` for the first renderable tool of each name, in order."""
    seen: set[str] = set()
    out: list[T] = []
    for tool in tools:
        rendered = render(tool)
        if rendered is not None and tool.name not in seen:
            seen.add(tool.name)
            out.append(rendered)
    return out
