"""Pieces shared by the two OpenAI wires (Chat Completions and Responses), neither wire's own.

Owns tolerant tool-call argument parsing (protocols.md §4.9 #6), the final usage of a stream
(``merge_usage``) and the ``created`` timestamp. No I/O.
"""

from __future__ import annotations

import time

from ..core import jsonfast
from ..core.ir import JSON, Usage


def now() -> int:
    return int(time.time())


def parse_arguments(raw: object) -> JSON | None:
    """Tool-call ``arguments`` → a JSON object; ``""`` → ``{}``; None when it is not one."""
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if not isinstance(raw, str):
        return None
    try:
        value = jsonfast.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def merge_usage(start: Usage, final: Usage | None) -> Usage:
    """Final usage of a stream: ``MessageDelta``'s, with ``MessageStart``'s input if it has none."""
    if final is None:
        return start
    if final.total_input_tokens == 0 and start.total_input_tokens:
        return Usage(
            input_tokens=start.input_tokens,
            output_tokens=final.output_tokens,
            cache_read_tokens=start.cache_read_tokens,
            cache_write_tokens=start.cache_write_tokens,
            reasoning_tokens=final.reasoning_tokens,
            estimated=final.estimated or start.estimated,
        )
    return final
