"""The one counterfactual behind every savings figure: this request in the world that did not happen.

Two worlds run side by side for each cache identity (docs/costs.md, "Projections follow the
caches"): the one that happened (every model's cache as the upstreams billed it) and the other
one — in shadow mode the world where the live plan had been followed, in live mode the world
where nothing had been routed. For each request:

- ``other_model``: who serves it in the other world (shadow: the would-be route; live: the
  requested model);
- ``usage_on``: its tokens there, given that model's cache in the other world now. Another
  model reads nothing of the served model's cache; a dead prefix (past its lifetime) reads
  nothing; a prefix ending more than 20 blocks before every breakpoint of the request is not
  found (Anthropic's look-back: only the stable prefix of an earlier breakpoint is read); the
  rest of the prefix up to the request's breakpoints is written (with the request's
  lifetime) where the model bills writes, else it is uncached input. The same model on both
  sides differs only by what its two caches hold: its reads move by that difference (so a
  premium turn after a detour pays the re-write the detour caused, and nothing when the detour
  ended within the lifetime and the look-back);
- ``step``: both worlds' cache states after the request (pure transitions of ``cache_state``);
- ``assess``: both sides priced, ``savings = unrouted - routed`` (shadow: projected; live:
  realised). Output tokens are the same on both sides.

Does not hold the states (``routing.runtime.CacheBook``) nor store events (``telemetry``). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..core.ir import Usage
from .cache_state import (
    FIVE_MINUTES,
    ONE_HOUR,
    CacheState,
    Marks,
    ModelRef,
    automatic_prefix,
    explicit_caching,
    min_cacheable_tokens,
    observe,
    readable,
)
from .conditions import NONE
from .prices import PriceBook, cost_of
from .savings import SavingsEstimate, savings

Mode = Literal["shadow", "live"]


@dataclass(frozen=True, slots=True)
class Counterfactual:
    """The request as ``model`` would have billed it in the other world."""

    model: ModelRef
    usage: Usage


@dataclass(frozen=True, slots=True)
class MoveRef:
    """The last request of a cache identity that one world served on another model than the
    other (a move taken live, or one shadow mode would take): what a later same-model request's
    cache difference is charged back to (``routing.runtime.CacheBook.advance``)."""

    request_id: str
    route_class: str | None
    to: ModelRef


@dataclass(frozen=True, slots=True)
class Step:
    """One request's counterfactual and both worlds' cache states after it."""

    counterfactual: Counterfactual
    served_after: CacheState | None  # the served model's cache, in the world that happened
    other_after: CacheState | None  # the other model's cache, in the other world


def other_model(mode: str, served: ModelRef, requested: ModelRef | None, would: ModelRef | None) -> ModelRef:
    """Who serves the request in the other world: the would-be route (shadow), the requested
    model (live); the served model when there is none."""
    other = requested if mode == "live" else would
    return other if other is not None else served


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def billed_marks(marks: Marks, served: ModelRef, usage: Usage) -> Marks:
    """``marks`` (estimated tokens) in the tokens ``served`` billed: scaled so the last breakpoint's
    prefix is what it read and wrote (explicit caches) or the whole prompt (others)."""
    if not marks or marks[-1][1] <= 0:
        return marks
    billed = (
        usage.cache_read_tokens + usage.cache_write_tokens
        if explicit_caching(served[0])
        else usage.total_input_tokens
    )
    if billed <= 0:
        return ()
    factor = billed / marks[-1][1]
    return tuple((position, round(tokens * factor)) for position, tokens in marks)


def usage_on(
    other: ModelRef,
    served: ModelRef,
    usage: Usage,
    *,
    served_before: CacheState | None,
    other_before: CacheState | None,
    now: float,
    marks: Marks = (),
) -> Usage:
    """The request's tokens on ``other`` given ``other_before`` (its cache in the other world);
    ``usage`` is what ``served`` billed with ``served_before`` (its cache in this world);
    ``marks``: the request's breakpoints in billed tokens (``billed_marks``)."""
    total = usage.total_input_tokens
    explicit = explicit_caching(other[0])
    found: Marks = marks if explicit else ()
    if other == served:
        delta = readable(other_before, now, found) - readable(served_before, now, found)
        if delta == 0:
            return usage
        prefix = usage.cache_read_tokens + usage.cache_write_tokens if explicit else automatic_prefix(total)
        read = _clamp(usage.cache_read_tokens + delta, 0, prefix)
    else:
        if explicit:
            marked = explicit_caching(served[0])
            prefix = usage.cache_read_tokens + usage.cache_write_tokens if marked else total
            if prefix < min_cacheable_tokens(*other):
                prefix = 0
        else:
            prefix = automatic_prefix(total)
        read = min(readable(other_before, now, found), prefix)
    if not explicit:
        return Usage(
            input_tokens=total - read,
            cache_read_tokens=read,
            output_tokens=usage.output_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            estimated=usage.estimated,
        )
    written = prefix - read
    if usage.cache_write_tokens > 0:
        one_hour = round(written * usage.cache_write_1h_tokens / usage.cache_write_tokens)
    else:
        lifetime = served_before.lifetime if served_before is not None else FIVE_MINUTES
        one_hour = written if lifetime >= ONE_HOUR else 0
    return Usage(
        input_tokens=total - prefix,
        cache_write_tokens=written,
        cache_write_1h_tokens=one_hour,
        cache_read_tokens=read,
        output_tokens=usage.output_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        estimated=usage.estimated,
    )


def step(
    served: ModelRef,
    other: ModelRef,
    usage: Usage,
    *,
    served_before: CacheState | None,
    other_before: CacheState | None,
    now: float,
    marks: Marks = (),
) -> Step:
    """The counterfactual of one request and both worlds' cache states after it; ``marks``: the
    request's breakpoints as ``routing.signals`` estimated them (none: no look-back applies)."""
    billed = billed_marks(marks, served, usage)
    other_usage = usage_on(
        other, served, usage, served_before=served_before, other_before=other_before, now=now, marks=billed
    )
    return Step(
        Counterfactual(other, other_usage),
        observe(served_before, usage, now, explicit=explicit_caching(served[0]), marks=marks),
        observe(other_before, other_usage, now, explicit=explicit_caching(other[0]), marks=marks),
    )


def assess(
    book: PriceBook,
    mode: str,
    served: ModelRef,
    usage: Usage,
    counterfactual: Counterfactual,
    conditions: frozenset[str] = NONE,
) -> SavingsEstimate:
    """Both worlds priced: shadow — paid (premium) vs the routed world's cost (projected);
    live — the unrouted world's cost vs paid (realised). ``savings`` > 0: routing is cheaper."""
    actual = cost_of(book.get(*served), usage, conditions)
    other = cost_of(book.get(*counterfactual.model), counterfactual.usage, conditions)
    if mode == "live":
        return SavingsEstimate("live", other, actual, 0.0, savings(other, actual, 0.0))
    return SavingsEstimate("shadow", actual, other, 0.0, savings(actual, other, 0.0))
