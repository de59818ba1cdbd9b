"""A script whose usage is what a real provider's prompt cache would report (cost tests).

``CachedScript`` lets an inner script (``markers.MarkerScript`` by default) decide what the model
says, then replaces the reply's usage with the numbers the cache simulators of ``cache_model``
produce for the request it received: Anthropic ``input_tokens`` / ``cache_creation_input_tokens``
/ ``cache_read_input_tokens`` / ``cache_creation.{ephemeral_5m,ephemeral_1h}_input_tokens``;
Responses ``input_tokens`` (the total) with ``input_tokens_details.cached_tokens``; Chat
``prompt_tokens`` (the total) with ``prompt_tokens_details.cached_tokens``. Output tokens are
``ceil(chars / 4)`` of what the reply says (text, thinking, tool arguments) plus
``reasoning_tokens``. Caches are kept per provider prefix (the first path segment) and model.

Like the real API, an Anthropic request whose total input exceeds 200 000 tokens without the
``context-1m-2025-08-07`` beta, or that breaks a caching rule, is refused with a 400
(``reply.Rejected``). Every answered call is logged in ``served`` with the usage exactly as
reported and the betas it carried, so a test can price it independently. The clock is injected
(``ManualClock`` by default): tests advance it past lifetimes instead of sleeping.

Does not own the cache rules (``cache_model``), the wire shapes, or serving (``upstream``).
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from .cache_model import AnthropicCache, CacheRuleError, Clock, ManualClock, OpenAICache
from .markers import MarkerScript
from .reply import Call, Rejected, Reply, Script, Wire

LONG_CONTEXT_BETA = "context-1m-2025-08-07"
STANDARD_WINDOW = 200_000


@dataclass(frozen=True, slots=True)
class Served:
    """One answered model call as the fake billed it."""

    number: int  # the upstream's request number
    wire: Wire
    provider: str | None
    model: str
    betas: frozenset[str]
    at: float  # the script's clock when it answered
    usage: dict[str, Any]  # exactly the usage object the wire reported
    total_input: int  # every input token (uncached + written + read)
    # Responses ``reasoning`` input items the request carried (a client's earlier reasoning).
    reasoning_items: int = 0


def betas_of(call: Call) -> frozenset[str]:
    raw = call.headers.get("anthropic-beta") or ""
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def _said(reply: Reply) -> int:
    chars = len("".join(reply.text)) + len("".join(reply.thinking))
    if reply.tool is not None:
        chars += len(reply.tool.name) + len(reply.tool.arguments)
    return max(1, -(-chars // 4))


@dataclass
class CachedScript:
    clock: Clock = field(default_factory=ManualClock)
    inner: Script = field(default_factory=MarkerScript)
    # Extra output tokens per answer (thinking / reasoning the wire does not show).
    reasoning_tokens: int = 0
    served: list[Served] = field(default_factory=list)
    anthropic: AnthropicCache = field(init=False)
    openai: OpenAICache = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.anthropic = AnthropicCache(self.clock)
        self.openai = OpenAICache(self.clock)

    def latency(self, wire: Wire) -> float:
        return self.inner.latency(wire)

    def delay(self, call: Call) -> float:
        return self.inner.delay(call)

    def log(self) -> list[Served]:
        with self._lock:
            return list(self.served)

    def reply(self, call: Call) -> Reply:
        model = str(call.body.get("model") or "")
        scope = call.provider or ""
        betas = betas_of(call)
        reply = self.inner.reply(call)
        output = _said(reply) + self.reasoning_tokens
        if call.wire == "anthropic":
            window = None if LONG_CONTEXT_BETA in betas else STANDARD_WINDOW
            try:
                billed = self.anthropic.serve(model, call.body, scope=scope, window=window)
            except CacheRuleError as exc:
                raise Rejected(400, str(exc)) from None
            usage, total = billed.wire(output), billed.total
        else:
            prompt = self.openai.serve(model, call.wire, call.body, scope=scope)
            usage, total = (
                _openai_usage(call.wire, prompt.total, prompt.cached, output, self.reasoning_tokens),
                prompt.total,
            )
        reply.usage = usage
        with self._lock:
            self.served.append(
                Served(
                    call.number,
                    call.wire,
                    call.provider,
                    model,
                    betas,
                    self.clock(),
                    copy.deepcopy(usage),
                    total,
                    _reasoning_items(call),
                )
            )
        return reply


def _reasoning_items(call: Call) -> int:
    items = call.body.get("input") if call.wire == "responses" else None
    if not isinstance(items, list):
        return 0
    return sum(1 for item in items if isinstance(item, dict) and item.get("type") == "reasoning")


def _openai_usage(wire: Wire, total: int, cached: int, output: int, reasoning: int) -> dict[str, Any]:
    if wire == "responses":
        return {
            "input_tokens": total,
            "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": total + output,
        }
    return {
        "prompt_tokens": total,
        "completion_tokens": output,
        "total_tokens": total + output,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
