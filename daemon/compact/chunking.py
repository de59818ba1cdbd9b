"""Sizing compaction work to a model's context window: chunks to map, batches to merge.

The chunk budget is the window minus the output reserve and the prompt's own size, with the
registry's ``FIT_MARGIN`` for the chars/4 estimate. Transcript lines are packed greedily in
order; a line longer than a chunk is split (at a newline when one is near). Merge batches never
split a fact set and hold at least two, so every merge round shrinks the list. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import InvalidRequest
from ..core.tokens import CHARS_PER_TOKEN
from ..routing.registry import FIT_MARGIN

# A window assumed for a model the registry does not know.
DEFAULT_WINDOW = 16_000
MAX_OUTPUT_TOKENS = 4_096
MIN_CHUNK_TOKENS = 256


@dataclass(frozen=True, slots=True)
class Budget:
    chunk_chars: int
    max_output: int


def budget_for(window: int, max_output: int | None, overhead_chars: int) -> Budget:
    """How much transcript one call may carry, and the output limit to ask for."""
    out = min(MAX_OUTPUT_TOKENS, max_output or MAX_OUTPUT_TOKENS, window // 4)
    tokens = int((window - out) / FIT_MARGIN) - overhead_chars // CHARS_PER_TOKEN - 1
    if tokens < MIN_CHUNK_TOKENS:
        raise InvalidRequest(
            f"the compaction model's context window ({window} tokens) is too small to hold a chunk",
            param="model",
        )
    return Budget(tokens * CHARS_PER_TOKEN, out)


def split_text(text: str, size: int) -> list[str]:
    """``text`` in pieces of at most ``size`` chars, cut at a newline in the last fifth if any."""
    pieces: list[str] = []
    while len(text) > size:
        cut = text.rfind("\n", size * 4 // 5, size)
        cut = cut if cut > 0 else size
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text:
        pieces.append(text)
    return pieces


def pack(lines: list[str], chunk_chars: int) -> list[str]:
    """Lines joined into chunks of at most ``chunk_chars`` chars, in order."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        for piece in split_text(line, chunk_chars) if len(line) > chunk_chars else [line]:
            if current and size + len(piece) + 1 > chunk_chars:
                chunks.append("\n".join(current))
                current, size = [], 0
            current.append(piece)
            size += len(piece) + 1
    if current:
        chunks.append("\n".join(current))
    return chunks


def merge_batches(items: list[str], chunk_chars: int) -> list[list[str]]:
    """Consecutive groups of fact sets to merge, each within the budget and at least two long."""
    batches: list[list[str]] = []
    current: list[str] = []
    size = 0
    for item in items:
        if len(current) >= 2 and size + len(item) > chunk_chars:
            batches.append(current)
            current, size = [], 0
        current.append(item)
        size += len(item)
    if len(current) == 1 and batches:
        batches[-1].append(current[0])
    elif current:
        batches.append(current)
    return batches
