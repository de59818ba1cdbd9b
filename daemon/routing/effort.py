"""Same-model savings: a lower reasoning effort for the route classes the user marks cheap.

``routing.effort`` maps a route class to an effort ("minimal", "low", "medium"); a task of that
class whose request asks for more (Claude Code's ``output_config.effort``, Codex's
``reasoning.effort``, Chat's ``reasoning_effort``) is served at the lower effort on the same model,
which keeps its prompt cache. Only an effort the client set is lowered: nothing is added to a
request that has none. Pure.
"""

from __future__ import annotations

# Efforts from the least to the most reasoning (the providers' words).
ORDER = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


def lowered(current: str | None, target: str | None) -> str | None:
    """``target`` when the request asks for a higher effort than it, else None (nothing to do)."""
    if current is None or target is None or current not in ORDER or target not in ORDER:
        return None
    return target if ORDER.index(current) > ORDER.index(target) else None
