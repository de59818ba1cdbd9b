"""What one model's prompt cache holds for one cache identity, learned from what it billed.

Owns the value types and their pure transitions (docs/costs.md, "Projections follow the caches"):

- ``cache_identity``: the key a conversation's caches share — the session plus a digest of the
  stable prefix (system text and tool names). A fresh-context request (a title, a topic check,
  a subagent's first turn) has another system prompt or tool set, so another identity: it
  neither reads nor warms the conversation's cache.
- ``CacheState``: the cached prefix (tokens), its lifetime (5 minutes or 1 hour, refreshed on
  every hit), its last use. Kept per (identity, provider, MODEL): one model never reads another's
  cache.
- ``observe``: the state after a request, from the usage the upstream billed (Anthropic: the
  prefix up to the last breakpoint read or written, the lifetime from the 1-hour write split;
  OpenAI and other automatic caches: the prompt in 128-token steps from 1 024 tokens on).
- ``readable``: how much of a prefix a request can still read: none past its lifetime, and on
  explicit caches only what Anthropic's look-back finds — the cached prefix from a breakpoint at
  most ``LOOKBACK_BLOCKS`` blocks after its end, else the longest earlier breakpoint's prefix
  (the stable system prefix every turn re-marks).

Does not price anything (``counterfactual``, ``prices``) and holds no mutable store (the
per-daemon store is ``routing.runtime.CacheBook``). Pure.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from ..core.ir import Usage
from .prices import WRITE_BILLING_PROVIDERS

FIVE_MINUTES = 300.0
ONE_HOUR = 3600.0
# Anthropic looks for a cached prefix at a breakpoint and up to this many blocks before it.
LOOKBACK_BLOCKS = 20
# Automatic (OpenAI-style) prefix caching: from this many tokens on, in steps of this size.
AUTOMATIC_MIN_TOKENS = 1024
AUTOMATIC_STEP_TOKENS = 128
# Shortest prefix an Anthropic model caches (Anthropic's prompt-caching docs, checked 2026-12);
# anything else: DEFAULT_MIN_TOKENS.
_MINIMUMS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"opus-4-[56]|haiku-4-5"), 4096),
    (re.compile(r"sonnet-4-6|claude-3-haiku|claude-3-5-haiku|haiku-3"), 2048),
)
DEFAULT_MIN_TOKENS = 1024

ModelRef = tuple[str, str]  # (provider, model)
# A request's cache breakpoints in order: (block position, tokens through that block), blocks
# counted tools → system → message content blocks (``routing.signals.history_facts``).
Marks = tuple[tuple[int, int], ...]


def cache_identity(session: str | None, system_texts: Iterable[str], tool_names: Iterable[str]) -> str:
    """A short digest of the session and the stable prefix (system text, tool names in order).

    The caller removes per-turn noise from the system text first (Claude Code's billing line).
    """
    digest = hashlib.blake2b(digest_size=8)
    digest.update((session or "").encode())
    for text in system_texts:
        digest.update(b"\x00s")
        digest.update(text.encode("utf-8", "surrogatepass"))
    for name in tool_names:
        digest.update(b"\x00t")
        digest.update(name.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def marks_of(value: object) -> Marks:
    """Breakpoints as recorded in an event's signals (``[[position, tokens], ...]``); anything
    malformed reads as none (no look-back applies)."""
    if not isinstance(value, list | tuple):
        return ()
    marks: list[tuple[int, int]] = []
    for item in value:
        if not isinstance(item, list | tuple) or len(item) != 2:
            return ()
        position, tokens = item
        if not all(type(v) is int and v >= 0 for v in (position, tokens)):
            return ()
        if marks and position <= marks[-1][0]:
            return ()
        marks.append((position, tokens))
    return tuple(marks)


def explicit_caching(provider: str) -> bool:
    """True for providers whose caches are written at marked breakpoints and billed (Anthropic)."""
    return provider in WRITE_BILLING_PROVIDERS


def min_cacheable_tokens(provider: str, model: str) -> int:
    """The shortest prefix ``model`` caches (automatic caches: ``AUTOMATIC_MIN_TOKENS``)."""
    if not explicit_caching(provider):
        return AUTOMATIC_MIN_TOKENS
    for pattern, minimum in _MINIMUMS:
        if pattern.search(model):
            return minimum
    return DEFAULT_MIN_TOKENS


def automatic_prefix(total_input_tokens: int) -> int:
    """What an automatic cache keeps of a prompt: whole steps, nothing below the minimum."""
    if total_input_tokens < AUTOMATIC_MIN_TOKENS:
        return 0
    return total_input_tokens - total_input_tokens % AUTOMATIC_STEP_TOKENS


@dataclass(frozen=True, slots=True)
class CacheState:
    """One model's cached prefix for one identity: ``tokens`` alive until ``last_use + lifetime``;
    ``position``: the block where the prefix ends (its breakpoint; -1 when not known)."""

    tokens: int
    lifetime: float
    last_use: float
    position: int = -1

    @property
    def expires(self) -> float:
        return self.last_use + self.lifetime

    def alive(self, now: float) -> bool:
        return self.tokens > 0 and now < self.expires


def readable(state: CacheState | None, now: float, marks: Marks = ()) -> int:
    """Tokens of ``state`` a request at ``now`` with breakpoints ``marks`` can read (0 past the
    lifetime). Without marks, or a state of unknown position, the whole prefix is found. With
    them, the prefix is found from a breakpoint at most ``LOOKBACK_BLOCKS`` blocks after its end;
    otherwise the request reads through its longest breakpoint at or before that end (an entry
    an earlier request wrote there), capped at the prefix; none before the first."""
    if state is None or not state.alive(now):
        return 0
    end = state.position
    if not marks or end < 0:
        return state.tokens
    earlier = 0
    for position, tokens in marks:
        if position - LOOKBACK_BLOCKS <= end <= position:
            return state.tokens
        if position <= end:
            earlier = tokens
    return min(earlier, state.tokens)


def write_lifetime(usage: Usage, fallback: float = FIVE_MINUTES) -> float:
    """The lifetime a request's writes carry: 1 hour when most of them were 1-hour writes."""
    if usage.cache_write_tokens <= 0:
        return fallback
    return ONE_HOUR if 2 * usage.cache_write_1h_tokens >= usage.cache_write_tokens else FIVE_MINUTES


def observe(
    prev: CacheState | None, usage: Usage, now: float, *, explicit: bool, marks: Marks = ()
) -> CacheState | None:
    """The state after a request billed ``usage`` at ``now`` (``prev``: the state before it).

    Explicit caches: the prefix through the last breakpoint read or written (``read + write``),
    ending at the request's last breakpoint (``marks``); a write sets the lifetime, a read alone
    keeps it; a request that touched no cache leaves ``prev`` as it was (its lifetime runs on).
    Automatic caches: the prompt's whole steps, 5 minutes from now.
    """
    if explicit:
        cached = usage.cache_read_tokens + usage.cache_write_tokens
        if cached <= 0:
            return prev
        kept = prev.lifetime if prev is not None and prev.alive(now) else FIVE_MINUTES
        return CacheState(cached, write_lifetime(usage, kept), now, marks[-1][0] if marks else -1)
    cached = automatic_prefix(usage.total_input_tokens)
    if cached <= 0:
        return prev
    return CacheState(cached, FIVE_MINUTES, now)


def refreshed(state: CacheState, now: float) -> CacheState:
    """``state`` after a hit at ``now`` (a hit restarts the lifetime)."""
    return replace(state, last_use=now)
