"""The route classes: the vocabulary shared by the classifier, the route table and the config.

Kept in its own dependency-free module so ``config`` can validate ``routes`` without importing
the classifier. No I/O.
"""

from __future__ import annotations

from typing import Literal, get_args

RouteClass = Literal[
    "tool_loop",
    "long_context",
    "deep_reasoning",
    "planning",
    "code_draft",
    "fast_code",
    "cheap_edit",
    "summary",
    "background",
    "fallback_safe",
]
ROUTE_CLASSES: tuple[RouteClass, ...] = get_args(RouteClass)

# The route-table token that stands for the model the client asked for.
REQUESTED = "requested"
