"""Prompt caches as the providers run them, for the cache-faithful fake upstream (docs: COSTS.md §2).

Owns the two cache simulators and the rules they follow, on a controllable clock (any callable
returning seconds; ``ManualClock`` lets tests jump past lifetimes without sleeping):

- ``AnthropicCache`` (explicit caching): the prompt is the ordered blocks tools → system →
  messages (a string system prompt or string message content is one text block); a block with
  ``cache_control`` is a breakpoint (at most ``MAX_BREAKPOINTS``; a 1-hour one may not follow a
  5-minute one: both are a ``CacheRuleError``, the real API's 400). A hit needs an identical
  prefix (``cache_control`` itself excluded) up to a block boundary where an earlier request of
  the same cache scope and model wrote an entry, found at a breakpoint or up to
  ``LOOKBACK_BLOCKS`` boundaries before it; the longest hit is read. Every breakpoint after the
  hit whose prefix reaches the model's minimum (``anthropic_min_tokens``) writes an entry; the
  tokens between the previous written boundary (or the hit) and it are billed as a write with
  that breakpoint's lifetime (5 minutes, or 1 hour for ``ttl: "1h"``). Entries die at
  ``written/refreshed + lifetime``; a hit refreshes every live entry along the prefix it read.
- ``OpenAICache`` (automatic caching, Responses and Chat): the prompt is tools → instructions →
  input items / messages; prompts of at least ``OPENAI_MIN_TOKENS`` are cached by prefix in
  ``OPENAI_STEP_TOKENS`` steps; the reported ``cached_tokens`` is the longest live step
  boundary shared with an earlier prompt of the same scope and model; every step boundary of a
  prompt is (re)written with an idle lifetime (``OPENAI_LIFETIME``, or 24 h with
  ``prompt_cache_retention: "24h"``). ``prompt_cache_key`` only routes requests in the real
  service; the fake's single cache always sees the prefix, so it is ignored.

Token counting is deterministic and documented: a block (a tool definition, a system block, a
message content block, an input item) counts ``ceil(len(canonical JSON) / 4)`` tokens, where the
canonical JSON has sorted keys, no spaces, and no ``cache_control``. OpenAI prompts are the
blocks' canonical JSON, each padded to a multiple of 4 characters, read as 4-character tokens.

Does not own what a model says (scripts), the wire usage objects (``cached_script``) or serving
(``upstream``). Pure apart from the clock it is handed; thread-safe.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal

Clock = Callable[[], float]

FIVE_MINUTES = 300.0
ONE_HOUR = 3600.0
MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20
OPENAI_MIN_TOKENS = 1024
OPENAI_STEP_TOKENS = 128
OPENAI_LIFETIME = FIVE_MINUTES
OPENAI_EXTENDED_LIFETIME = 24 * ONE_HOUR
_TTLS = {None: FIVE_MINUTES, "5m": FIVE_MINUTES, "1h": ONE_HOUR}
# Minimum cacheable prefix per model family (COSTS.md §2); anything else needs 1024 tokens.
_MINIMUMS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"opus-4-[56]|haiku-4-5"), 4096),
    (re.compile(r"sonnet-4-6|claude-3-haiku|claude-3-5-haiku|haiku-3"), 2048),
)
DEFAULT_MIN_TOKENS = 1024


class CacheRuleError(ValueError):
    """The request breaks a caching rule the real API rejects with a 400."""


class ManualClock:
    """A clock that only moves when told: ``clock()`` is the time, ``advance(s)`` moves it on."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not run backwards")
        with self._lock:
            self.now += seconds


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k != "cache_control"}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def canonical(obj: Any) -> str:
    """The JSON a block is counted and compared by: sorted keys, no spaces, no ``cache_control``."""
    return json.dumps(_strip(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def count_tokens(obj: Any) -> int:
    """``ceil(len(canonical(obj)) / 4)``: the fake's deterministic token count of one block."""
    return -(-len(canonical(obj)) // 4)


def anthropic_min_tokens(model: str) -> int:
    """The shortest prefix the model caches (4096 Opus 4.5/4.6 and Haiku 4.5, 2048 Sonnet 4.6 and
    Haiku 3.x, else 1024)."""
    for pattern, minimum in _MINIMUMS:
        if pattern.search(model):
            return minimum
    return DEFAULT_MIN_TOKENS


# -- Anthropic ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Block:
    """One prompt block: its tokens, the digest of the prefix ending with it, its breakpoint."""

    tokens: int
    digest: str
    ttl: float | None  # seconds; None: no cache_control on this block


def _ttl(block: Any) -> float | None:
    if not isinstance(block, dict) or "cache_control" not in block:
        return None
    control = block["cache_control"]
    if not isinstance(control, dict) or control.get("type") != "ephemeral":
        raise CacheRuleError("cache_control.type: the only supported type is 'ephemeral'")
    ttl = control.get("ttl")
    if ttl not in _TTLS:
        raise CacheRuleError(f"cache_control.ttl: expected '5m' or '1h', got {ttl!r}")
    return _TTLS[ttl]


def _text_blocks(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content) if isinstance(content, list) else []


def _anthropic_items(body: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    for tool in body.get("tools") or []:
        yield "tool", tool
    for block in _text_blocks(body.get("system")):
        yield "system", block
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            for block in _text_blocks(message.get("content")):
                yield str(message.get("role")), block


def anthropic_blocks(body: Mapping[str, Any]) -> list[Block]:
    """The request's blocks in cache order (tools → system → messages), each with its prefix digest."""
    running = hashlib.sha256()
    blocks: list[Block] = []
    for role, block in _anthropic_items(body):
        text = canonical(block)
        running.update(f"{role}\x00{text}\x00".encode())
        blocks.append(Block(-(-len(text) // 4), running.copy().hexdigest(), _ttl(block)))
    return blocks


@dataclass(frozen=True, slots=True)
class AnthropicUsage:
    """The input side of one Anthropic request, as the cache served it."""

    input_tokens: int  # after the last written breakpoint (or all of it)
    write_5m: int
    write_1h: int
    read: int

    @property
    def written(self) -> int:
        return self.write_5m + self.write_1h

    @property
    def total(self) -> int:
        return self.input_tokens + self.written + self.read

    def wire(self, output_tokens: int) -> dict[str, Any]:
        """The Messages ``usage`` object."""
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.written,
            "cache_read_input_tokens": self.read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.write_5m,
                "ephemeral_1h_input_tokens": self.write_1h,
            },
            "output_tokens": output_tokens,
        }


@dataclass(slots=True)
class _Entry:
    lifetime: float
    expires: float


class AnthropicCache:
    """Explicit prompt caching: breakpoints, lifetimes, look-back, per-scope-and-model entries."""

    def __init__(
        self,
        clock: Clock,
        *,
        min_tokens: Callable[[str], int] = anthropic_min_tokens,
        lookback: int = LOOKBACK_BLOCKS,
    ) -> None:
        self.clock = clock
        self.min_tokens = min_tokens
        self.lookback = lookback
        self._entries: dict[tuple[str, str, str], _Entry] = {}
        self._lock = threading.Lock()

    def serve(
        self, model: str, body: Mapping[str, Any], *, scope: str = "", window: int | None = None
    ) -> AnthropicUsage:
        """Look the request up, write what it marks, and say how its input was billed. A request
        over ``window`` total input tokens is refused (``CacheRuleError``) and touches nothing."""
        blocks = anthropic_blocks(body)
        marks = [i for i, b in enumerate(blocks) if b.ttl is not None]
        if len(marks) > MAX_BREAKPOINTS:
            raise CacheRuleError(
                f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                f"Found {len(marks)}."
            )
        lifetimes = [blocks[i].ttl or FIVE_MINUTES for i in marks]
        if any(a < b for a, b in pairwise(lifetimes)):
            raise CacheRuleError("a ttl='1h' cache_control block may not come after a ttl='5m' one")
        cumulative: list[int] = []
        running = 0
        for block in blocks:
            running += block.tokens
            cumulative.append(running)
        if window is not None and running > window:
            raise CacheRuleError(f"prompt is too long: {running} tokens > {window} maximum")
        with self._lock:
            now = self.clock()
            self._forget(now)
            hit = self._longest_hit(scope, model, blocks, marks)
            for block in blocks[: hit + 1]:  # a hit refreshes the live entries along its prefix
                entry = self._entries.get((scope, model, block.digest))
                if entry is not None:
                    entry.expires = now + entry.lifetime
            read = cumulative[hit] if hit >= 0 else 0
            written, write_5m, write_1h = read, 0, 0
            minimum = self.min_tokens(model)
            for p in marks:
                if p <= hit or cumulative[p] < minimum:
                    continue
                lifetime = blocks[p].ttl or FIVE_MINUTES
                segment = cumulative[p] - written
                if lifetime == ONE_HOUR:
                    write_1h += segment
                else:
                    write_5m += segment
                written = cumulative[p]
                self._entries[(scope, model, blocks[p].digest)] = _Entry(lifetime, now + lifetime)
        total = cumulative[-1] if cumulative else 0
        return AnthropicUsage(total - written, write_5m, write_1h, read)

    def _longest_hit(self, scope: str, model: str, blocks: list[Block], marks: list[int]) -> int:
        hit = -1
        for p in marks:
            for q in range(p, max(-1, p - self.lookback - 1), -1):
                if q <= hit:
                    break
                if (scope, model, blocks[q].digest) in self._entries:
                    hit = q
                    break
        return hit

    def _forget(self, now: float) -> None:
        dead = [key for key, entry in self._entries.items() if entry.expires <= now]
        for key in dead:
            del self._entries[key]

    def live_entries(self, model: str, *, scope: str = "") -> int:
        """How many entries of ``model`` are alive now (for tests)."""
        with self._lock:
            self._forget(self.clock())
            return sum(1 for s, m, _ in self._entries if (s, m) == (scope, model))


# -- OpenAI ------------------------------------------------------------------------------------

OpenAIWire = Literal["responses", "chat"]


def openai_blocks(wire: OpenAIWire, body: Mapping[str, Any]) -> list[Any]:
    """The prompt's blocks in prefix order: tools, then instructions and input items (Responses)
    or messages (Chat)."""
    blocks: list[Any] = list(body.get("tools") or [])
    if wire == "responses":
        if isinstance(body.get("instructions"), str):
            blocks.append({"role": "system", "content": body["instructions"]})
        items = body.get("input")
        if isinstance(items, str):
            blocks.append({"role": "user", "content": items})
        elif isinstance(items, list):
            blocks.extend(items)
    else:
        blocks.extend(body.get("messages") or [])
    return blocks


def openai_prompt(wire: OpenAIWire, body: Mapping[str, Any]) -> str:
    """The prompt as the fake tokenises it: each block's canonical JSON padded to 4 characters."""
    parts = []
    for block in openai_blocks(wire, body):
        text = canonical(block)
        parts.append(text + "\x00" * (-len(text) % 4))
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class OpenAIUsage:
    total: int  # every input token, cached ones included
    cached: int


class OpenAICache:
    """Automatic prefix caching: prompts of ``minimum`` tokens or more, in ``step``-token steps."""

    def __init__(
        self,
        clock: Clock,
        *,
        lifetime: float = OPENAI_LIFETIME,
        minimum: int = OPENAI_MIN_TOKENS,
        step: int = OPENAI_STEP_TOKENS,
    ) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.minimum = minimum
        self.step = step
        self._entries: dict[tuple[str, str, str], float] = {}  # → expiry
        self._lock = threading.Lock()

    def serve(self, model: str, wire: OpenAIWire, body: Mapping[str, Any], *, scope: str = "") -> OpenAIUsage:
        prompt = openai_prompt(wire, body)
        total = len(prompt) // 4
        lifetime = OPENAI_EXTENDED_LIFETIME if body.get("prompt_cache_retention") == "24h" else self.lifetime
        running = hashlib.sha256()
        done = 0
        digests: list[tuple[int, str]] = []
        for length in range(self.minimum, total + 1, self.step):
            running.update(prompt[done * 4 : length * 4].encode())
            done = length
            digests.append((length, running.copy().hexdigest()))
        with self._lock:
            now = self.clock()
            dead = [key for key, expires in self._entries.items() if expires <= now]
            for key in dead:
                del self._entries[key]
            cached = max((n for n, d in digests if (scope, model, d) in self._entries), default=0)
            for _, digest in digests:
                key = (scope, model, digest)
                self._entries[key] = max(self._entries.get(key, 0.0), now + lifetime)
        return OpenAIUsage(total, cached)
