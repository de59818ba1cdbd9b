"""Parsing the ``since`` query parameter of the read APIs: today, 7d, 30d, all, or epoch seconds."""

from __future__ import annotations

import re
import time
from datetime import datetime

from ..core.errors import InvalidRequest

_DAYS = re.compile(r"^(\d{1,4})d$")


def parse_since(value: str | None, *, now: float | None = None) -> float | None:
    now = time.time() if now is None else now
    if value is None or value == "all":
        return None
    if value == "today":
        local = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
        return local.timestamp()
    m = _DAYS.match(value)
    if m:
        return now - int(m.group(1)) * 86400
    try:
        return float(value)
    except ValueError:
        raise InvalidRequest(
            f"since must be today, all, <N>d or epoch seconds, not {value!r}", param="since"
        ) from None
