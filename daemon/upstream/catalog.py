"""The shipped model catalogue (from the packaged price data): which models the gateway knows."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def price_entries() -> tuple[dict[str, Any], ...]:
    text = resources.files("stackbilt_gateway.daemon.data").joinpath("pricing.json").read_text("utf-8")
    return tuple(json.loads(text))


def models_of(provider: str) -> list[str]:
    return sorted({e["model"] for e in price_entries() if e.get("provider") == provider})
