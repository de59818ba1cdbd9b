"""Map then merge: compact each chunk of a transcript, then merge the fact sets into one.

Works through a ``ModelCall`` (one prompt in, the model's text and usage out), so it knows
nothing of providers or HTTP. Every answer is validated against the schema; an invalid one is
asked for again once with the validation error in the prompt, and a second invalid answer is a
``CompactionFailed`` (502, the error names the call and what was wrong). Calls run one after
another, in transcript order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..core.errors import RequestTooLarge, UpstreamProtocolError
from ..core.ir import Usage
from .chunking import Budget, budget_for, merge_batches, pack
from .prompts import PROMPT_OVERHEAD_CHARS, SYSTEM, map_prompt, merge_prompt, retry_note
from .schema import parse_facts
from .transcript import Transcript


class ModelCall(Protocol):
    async def __call__(self, system: str, prompt: str, *, max_tokens: int, label: str) -> tuple[str, Usage]:
        """Send one compaction prompt; return the model's text and the call's usage."""
        ...


class CompactionFailed(UpstreamProtocolError):
    """The compaction model answered twice with output that breaks the schema."""


@dataclass(slots=True)
class CompactionResult:
    facts: dict[str, Any]
    chunks: int
    calls: int = 0
    usage: Usage = field(default_factory=Usage)


def _add(total: Usage, usage: Usage) -> None:
    total.input_tokens += usage.input_tokens
    total.output_tokens += usage.output_tokens
    total.cache_read_tokens += usage.cache_read_tokens
    total.cache_write_tokens += usage.cache_write_tokens
    total.cache_write_1h_tokens += usage.cache_write_1h_tokens
    total.reasoning_tokens += usage.reasoning_tokens
    total.estimated = total.estimated or usage.estimated


class _Run:
    def __init__(self, call: ModelCall, budget: Budget, chunks: int) -> None:
        self.call = call
        self.budget = budget
        self.result = CompactionResult(facts={}, chunks=chunks)

    async def facts(self, prompt: str, label: str) -> dict[str, Any]:
        """One validated answer, retrying once with the validation error."""
        error: str | None = None
        for attempt in (1, 2):
            text, usage = await self.call(
                SYSTEM,
                prompt if error is None else prompt + retry_note(error),
                max_tokens=self.budget.max_output,
                label=label if attempt == 1 else f"{label}-retry",
            )
            self.result.calls += 1
            _add(self.result.usage, usage)
            facts, error = parse_facts(text)
            if facts is not None:
                return facts
        raise CompactionFailed(
            f"compaction failed: the model's answer for {label} broke the output schema twice; "
            f"last problem: {error}"
        )


async def compact(
    transcript: Transcript, *, window: int, max_output: int | None, call: ModelCall, max_chunks: int
) -> CompactionResult:
    """Compact ``transcript`` with a model whose context window is ``window`` tokens."""
    budget = budget_for(window, max_output, PROMPT_OVERHEAD_CHARS)
    chunks = pack([e.render() for e in transcript.entries], budget.chunk_chars)
    if len(chunks) > max_chunks:
        raise RequestTooLarge(
            f"the transcript needs {len(chunks)} chunks for this model's {window}-token window; the "
            f"limit is compaction.max_chunks = {max_chunks} (raise it, or pick a larger-window model)"
        )
    run = _Run(call, budget, len(chunks))
    partials = [
        await run.facts(map_prompt(i, len(chunks), chunk), f"chunk {i}/{len(chunks)}")
        for i, chunk in enumerate(chunks, 1)
    ]
    rounds = 0
    while len(partials) > 1:
        rounds += 1
        texts = [json.dumps(p, ensure_ascii=False, separators=(",", ":")) for p in partials]
        batches = merge_batches(texts, budget.chunk_chars)
        partials = [
            await run.facts(merge_prompt(batch), f"merge {rounds}.{i}") for i, batch in enumerate(batches, 1)
        ]
    run.result.facts = partials[0]
    return run.result
