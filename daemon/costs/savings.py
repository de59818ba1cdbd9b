"""Cache-aware savings: what routing a turn to another model saves, or would have saved.

Owns the counterfactual and the formula documented (with a worked example) in docs/costs.md:

    savings = premium_cost - routed_cost - rewrite_penalty
    rewrite_penalty = (premium.cache_write - premium.cache_read) * cached_tokens / 1e6

Moving a turn off the premium model forfeits its cache reads (on the routed model those tokens
are uncached input, or cache reads at the routed model's cached price only when the session is
sticky there and that price exists) and makes the next premium turn re-write the cache; that
premium is charged to the switching turn. Output tokens are assumed equal on both routes. Every
cost here is priced under the request's price conditions (``conditions``: the 1M-context beta),
so a long-context tier bills both sides and the penalty as it would bill the request. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..core.ir import Usage
from .conditions import NONE
from .prices import Cost, Price, PriceBook, cost_of

_MTOK = 1_000_000


@dataclass(frozen=True, slots=True)
class SavingsEstimate:
    """Both sides of one routing decision, in USD.

    ``premium``: the requested (premium) model; ``routed``: the cheap target. In shadow mode the
    premium side is what was paid and the routed side the counterfactual; in live mode (turn
    routed) the other way round. ``savings`` > 0 means routing is cheaper.
    """

    mode: Literal["shadow", "live"]
    premium: Cost
    routed: Cost
    rewrite_penalty: float
    savings: float

    @property
    def priced(self) -> bool:
        return self.premium.priced and self.routed.priced

    @property
    def actual(self) -> Cost:
        """What was paid for the request (the event's ``cost_usd``)."""
        return self.premium if self.mode == "shadow" else self.routed

    @property
    def counterfactual(self) -> Cost:
        """What the other route would have cost (the event's ``would_cost_usd``)."""
        return self.routed if self.mode == "shadow" else self.premium


def savings(premium: Cost, routed: Cost, rewrite_penalty: float) -> float:
    """premium - routed - rewrite_penalty (0.0 when either side has no price)."""
    if not (premium.priced and routed.priced):
        return 0.0
    return premium.total - routed.total - rewrite_penalty


def rewrite_penalty(
    premium: Price | None,
    cached_tokens: int,
    *,
    total_input_tokens: int = 0,
    conditions: frozenset[str] = NONE,
) -> float:
    """The next premium turn re-writes what this turn read from cache: (write - read) per token.

    Zero for providers that do not bill cache writes (OpenAI caches for free). The rates are
    those of a request of ``total_input_tokens`` under ``conditions`` (a long-context tier).
    """
    if premium is None or cached_tokens <= 0 or not premium.bills_cache_writes:
        return 0.0
    rates = premium.at(total_input_tokens, conditions)
    return max(0.0, rates.cache_write - rates.cache_read) * cached_tokens / _MTOK


def _routed_usage(usage: Usage, routed: Price | None, *, sticky: bool) -> Usage:
    """The premium turn's tokens as the routed model would bill them."""
    keep_cache = sticky and routed is not None and routed.cached_input_per_mtok is not None
    cached = usage.cache_read_tokens if keep_cache else 0
    return Usage(
        input_tokens=usage.total_input_tokens - cached,
        cache_read_tokens=cached,
        output_tokens=usage.output_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        estimated=usage.estimated,
    )


def _premium_usage(usage: Usage, premium: Price | None, *, cached_tokens: int) -> Usage:
    """The routed turn's tokens as the premium model would bill them.

    ``cached_tokens`` (the session's last premium cache read) become cache reads; the rest is
    written to cache when the premium's price lists a cache-write price (Anthropic: clients
    mark cache breakpoints on every turn), else uncached input.
    """
    total = usage.total_input_tokens
    cached = max(0, min(cached_tokens, total))
    writes = premium is not None and premium.bills_cache_writes
    return Usage(
        input_tokens=0 if writes else total - cached,
        cache_write_tokens=total - cached if writes else 0,
        cache_read_tokens=cached,
        output_tokens=usage.output_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        estimated=usage.estimated,
    )


def estimate_shadow(
    book: PriceBook,
    served: tuple[str, str],
    usage: Usage,
    would: tuple[str, str] | None,
    *,
    sticky_to_would: bool = False,
    conditions: frozenset[str] = NONE,
) -> SavingsEstimate:
    """Shadow mode: ``served`` (premium) answered with ``usage``; live would have used ``would``."""
    premium_price = book.get(*served)
    actual = cost_of(premium_price, usage, conditions)
    if would is None or would == served:
        return SavingsEstimate("shadow", actual, actual, 0.0, 0.0)
    routed_price = book.get(*would)
    routed = cost_of(routed_price, _routed_usage(usage, routed_price, sticky=sticky_to_would), conditions)
    penalty = rewrite_penalty(
        premium_price,
        usage.cache_read_tokens,
        total_input_tokens=usage.total_input_tokens,
        conditions=conditions,
    )
    return SavingsEstimate("shadow", actual, routed, penalty, savings(actual, routed, penalty))


def estimate_live(
    book: PriceBook,
    served: tuple[str, str],
    usage: Usage,
    requested: tuple[str, str],
    *,
    premium_cached_tokens: int = 0,
    conditions: frozenset[str] = NONE,
) -> SavingsEstimate:
    """Live mode: ``served`` answered with ``usage`` instead of the ``requested`` premium model.

    ``premium_cached_tokens``: how much of the prompt the premium model had in cache (the
    session's most recent premium ``cache_read + cache_write``; 0 when unknown).
    """
    routed_price = book.get(*served)
    actual = cost_of(routed_price, usage, conditions)
    if served == requested:
        return SavingsEstimate("live", actual, actual, 0.0, 0.0)
    premium_price = book.get(*requested)
    premium = cost_of(
        premium_price, _premium_usage(usage, premium_price, cached_tokens=premium_cached_tokens), conditions
    )
    cached = min(premium_cached_tokens, usage.total_input_tokens)
    penalty = rewrite_penalty(
        premium_price, cached, total_input_tokens=usage.total_input_tokens, conditions=conditions
    )
    return SavingsEstimate("live", premium, actual, penalty, savings(premium, actual, penalty))
