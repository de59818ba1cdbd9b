"""The pass-through edit that lowers a request's reasoning effort (``routing.effort``).

One function per wire's field: Anthropic ``output_config.effort``, Responses ``reasoning.effort``,
Chat Completions ``reasoning_effort``. Each changes only an effort the client set (True when it
changed the body); a request without one is left as it is. Pure.
"""

from __future__ import annotations

from typing import Any


def _nested(body: dict[str, Any], outer: str, level: str) -> bool:
    config = body.get(outer)
    if not isinstance(config, dict) or not isinstance(config.get("effort"), str) or config["effort"] == level:
        return False
    body[outer] = {**config, "effort": level}
    return True


def anthropic_effort(body: dict[str, Any], level: str) -> bool:
    return _nested(body, "output_config", level)


def responses_effort(body: dict[str, Any], level: str) -> bool:
    return _nested(body, "reasoning", level)


def chat_effort(body: dict[str, Any], level: str) -> bool:
    if not isinstance(body.get("reasoning_effort"), str) or body["reasoning_effort"] == level:
        return False
    body["reasoning_effort"] = level
    return True
