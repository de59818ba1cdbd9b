"""What an executor hands back to the pipeline and the HTTP layer: a whole body or a stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from ..core.errors import GatewayError


@dataclass(slots=True)
class Outcome:
    """What the HTTP layer sends: a whole body or a stream of chunks."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    # A relayed upstream error (status >= 400): the pipeline may still fall back.
    error: GatewayError | None = None
