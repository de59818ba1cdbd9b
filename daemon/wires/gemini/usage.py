"""Usage of the Gemini wire: a buffered body's ``usageMetadata`` and a relayed stream's tap.

Gemini streams carry cumulative ``usageMetadata`` on their chunks and no terminal marker; a chunk
with a ``finishReason`` marks the end. The counts are read by ``common.usage_from_gemini``. No I/O.
"""

from __future__ import annotations

from typing import Any

from ...core.ir import Usage
from ..sse import SSEEvent
from ..usage_tap import SSEUsageTap, error_text, json_object
from .common import usage_from_gemini


class GeminiUsageTap(SSEUsageTap):
    """Observes a ``streamGenerateContent?alt=sse`` stream."""

    # The first candidate's ``finishReason`` ("STOP", "MAX_TOKENS", …) once one states it.
    stop_reason: str | None = None

    def _wanted(self, block: bytes) -> bool:
        return b"usageMetadata" in block or b"finishReason" in block or b'"error"' in block

    def _on_event(self, event: SSEEvent) -> None:
        payload = json_object(event.data)
        if payload is None:
            return
        if payload.get("error"):
            self.error = error_text(payload["error"])
            return
        usage = usage_from_gemini(payload.get("usageMetadata"))
        if usage is not None:
            self.usage = usage
            self.has_usage = True
        candidates = payload.get("candidates")
        if isinstance(candidates, list) and any(
            isinstance(c, dict) and c.get("finishReason") for c in candidates
        ):
            self.finished = True
            reasons = [c["finishReason"] for c in candidates if isinstance(c, dict) and c.get("finishReason")]
            self.stop_reason = str(reasons[0])


def body_usage(body: dict[str, Any], into: Usage) -> None:
    into.copy_from(usage_from_gemini(body.get("usageMetadata")) or Usage())
